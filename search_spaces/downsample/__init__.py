"""Downsampling-position space: where a ResNet-20-style network halves its resolution (shared weights)."""

from search_spaces.downsample.config import DownsampleConfig
from search_spaces.downsample.network import BasicBlock, BlockPlan, DownsampleBackbone, DownsampleNet
from search_spaces.downsample.space import DownsampleSearchSpace
from search_spaces.downsample.supernet import DownsampleSupernet

__all__ = ["BasicBlock", "BlockPlan", "DownsampleBackbone", "DownsampleConfig", "DownsampleNet",
           "DownsampleSearchSpace", "DownsampleSupernet"]
