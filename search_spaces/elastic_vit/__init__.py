"""Elastic ViT space: a small vision transformer in one weight-entangled supernet (AutoFormer)."""

from search_spaces.elastic_vit.architecture import ElasticViTArchitecture, LayerPlan, ViTPlan, decisions, plan
from search_spaces.elastic_vit.config import ElasticViTConfig, hidden_features
from search_spaces.elastic_vit.network import ViT, TransformerBlock
from search_spaces.elastic_vit.mixture import MixtureViTSupernet
from search_spaces.elastic_vit.space import ElasticViTSearchSpace
from search_spaces.elastic_vit.supernet import ElasticTransformerBlock, ElasticViTSupernet

__all__ = [
    "ElasticViTArchitecture",
    "ElasticTransformerBlock",
    "ElasticViTConfig",
    "ElasticViTSearchSpace",
    "ElasticViTSupernet",
    "LayerPlan",
    "MixtureViTSupernet",
    "TransformerBlock",
    "ViT",
    "ViTPlan",
    "decisions",
    "hidden_features",
    "plan",
]
