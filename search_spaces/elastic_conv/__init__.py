"""Elastic conv space: MobileNet-style inverted-residual stages in one weight-entangled supernet."""

from search_spaces.elastic_conv.architecture import ElasticConvArchitecture, BlockPlan, ConvPlan, decisions, plan
from search_spaces.elastic_conv.config import ElasticConvConfig, scaled_channels
from search_spaces.elastic_conv.network import ConvNet, InvertedResidual
from search_spaces.elastic_conv.mixture import MixtureConvSupernet
from search_spaces.elastic_conv.space import ElasticConvSearchSpace
from search_spaces.elastic_conv.supernet import ElasticConvSupernet, ElasticInvertedResidual

__all__ = [
    "ElasticConvArchitecture",
    "BlockPlan",
    "ConvNet",
    "ConvPlan",
    "ElasticConvConfig",
    "ElasticConvSearchSpace",
    "ElasticConvSupernet",
    "ElasticInvertedResidual",
    "InvertedResidual",
    "MixtureConvSupernet",
    "decisions",
    "plan",
    "scaled_channels",
]
