"""Reusable supernet building blocks."""

from supernets.base import Supernet, SupernetKind
from supernets.choice import ChoiceOp

__all__ = ["ChoiceOp", "Supernet", "SupernetKind"]
