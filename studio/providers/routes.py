"""Importing this module registers every route with `base.REGISTRY`."""

from . import videos_gateway  # noqa: F401
