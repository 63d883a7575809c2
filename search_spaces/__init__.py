"""Concrete search spaces, each a plugin registered under the entry-point group ``nas.search_spaces``."""
