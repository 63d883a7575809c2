"""Weight-entangled (elastic) ops: one weight per layer at its largest size; children use slices.

Every op takes its active configuration as forward arguments (its active input size is the
input's), builds nothing in ``forward`` (functional calls on weight slices), and ``export``s a
plain torch module holding copies of the active weights.
"""

from supernets.elastic.attention import ElasticSelfAttention, SelfAttention, attend
from supernets.elastic.batchnorm import ElasticBatchNorm2d
from supernets.elastic.conv import ElasticConv2d
from supernets.elastic.depthwise import ElasticDepthwiseConv2d
from supernets.elastic.kernel import ElasticKernel, centre_crop
from supernets.elastic.layernorm import ElasticLayerNorm
from supernets.elastic.linear import ElasticLinear
from supernets.elastic.mlp import MLP, ElasticMLP

__all__ = [
    "MLP",
    "ElasticBatchNorm2d",
    "ElasticConv2d",
    "ElasticDepthwiseConv2d",
    "ElasticKernel",
    "ElasticLayerNorm",
    "ElasticLinear",
    "ElasticMLP",
    "ElasticSelfAttention",
    "SelfAttention",
    "attend",
    "centre_crop",
]
