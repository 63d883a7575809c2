"""Mixture-of-Supernets (Jawahar et al., 2023): architecture-routed mixtures of full-size experts on
the layers of a weight-entangled supernet.

``MixtureSpec`` (the config: experts, router kind and width), ``ArchitectureEncoder`` (an
architecture as a fixed numeric vector), ``Router`` (encoding -> mixing weights, layer- or
neuron-wise), the routed ops ``RoutedLinear`` / ``RoutedConv2d`` and the supernet mixin
``MixtureOfSupernets``; the elastic spaces compose them (``search_spaces.elastic_vit.MixtureViTSupernet``,
``search_spaces.elastic_conv.MixtureConvSupernet``).
"""

from supernets.mixture.encoder import ArchitectureEncoder
from supernets.mixture.ops import RoutedConv2d, RoutedLinear, mix_experts
from supernets.mixture.router import Router
from supernets.mixture.spec import ROUTER_KINDS, MixtureSpec
from supernets.mixture.supernet import MixtureOfSupernets

__all__ = [
    "ROUTER_KINDS",
    "ArchitectureEncoder",
    "MixtureOfSupernets",
    "MixtureSpec",
    "RoutedConv2d",
    "RoutedLinear",
    "Router",
    "mix_experts",
]
