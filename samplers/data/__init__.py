"""Data samplers, one module per strategy; the public names are re-exported by ``samplers``."""
