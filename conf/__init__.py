"""Hydra configuration groups of the nas framework (YAML files beside this module)."""
