"""Checks as code: YAML files → typed, validated models, with file:line:col in every error.

The spec model of each check kind lives with the kind (``livesite.checks.<kind>``); the loader
builds the union of them from the registry of kinds.
"""

from livesite.config.load import load, load_document, loads, loads_document
from livesite.config.models import CheckBase, Config, Defaults, RetrySpec, Zone

__all__ = [
    "CheckBase",
    "Config",
    "Defaults",
    "RetrySpec",
    "Zone",
    "load",
    "load_document",
    "loads",
    "loads_document",
]
