"""Which store a command reads or writes, by one rule for every command.

- A ``--store`` URL is typed on the command line, so its relative SQLite path is relative to the
  current directory, like any other path an option takes.
- A ``store.url`` written in a config is relative to that config's folder (a directory of configs:
  that directory), wherever the command runs from.

``history --config`` needs nothing but the store, so it reads only the ``store:`` section: the
checks may use ``${ENV}`` variables that a person reading history has no reason to set.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from livesite.config import load
from livesite.config.yamlsource import interpolate, read_config
from livesite.errors import ConfigError, Position
from livesite.store import sqlite_path

DEFAULT_URL = "sqlite:///livesite.db"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def from_option(url: str) -> str:
    """A ``--store`` URL with a relative SQLite path made absolute against the current directory."""
    path = sqlite_path(url, Path.cwd())
    return url if path is None else f"sqlite:///{path.absolute()}"


def from_config(config: Path) -> tuple[str, Path]:
    """The store URL that ``config`` names and the folder its relative path starts from.

    Only the ``store:`` section is read and only ``store.url`` is interpolated.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or its ``store.url`` is not a string or
            names a variable that is not set.
    """
    if config.is_dir():
        files = sorted([*config.glob("*.yaml"), *config.glob("*.yml")])
        if not files:
            raise ConfigError(f"no *.yaml files in directory {config}", file=str(config))
        base_dir = config
    else:
        files = [config]
        base_dir = config.parent
    for file in files:
        url = _store_url(file)
        if url is not None:
            return url, base_dir
    return DEFAULT_URL, base_dir


def _store_url(file: Path) -> str | None:
    text = read_config(file)  # the loader's rules: a regular file, capped, UTF-8
    try:
        # compose() builds the node graph without expanding aliases, so a file full of them costs
        # nothing here; only the store mapping is looked at.
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise ConfigError(
            f"invalid YAML: {e.problem or 'cannot parse'}",
            file=str(file),
            line=mark.line + 1 if mark else None,
            col=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {' '.join(str(e).split())}", file=str(file)) from None
    store = _child(root, "store")
    if store is None:
        return None
    if isinstance(store, yaml.MappingNode) and any(k.value == "<<" for k, _ in store.value):
        return load(file).store.url  # a merge key: let the full loader resolve it
    url = _child(store, "url")
    if url is None:
        return DEFAULT_URL
    where = Position(str(file), url.start_mark.line + 1, url.start_mark.column + 1)
    if not isinstance(url, yaml.ScalarNode) or url.tag != "tag:yaml.org,2002:str":
        raise ConfigError.at(where, "store.url must be a string", hint="e.g. sqlite:///results.db")
    return interpolate(url.value, os.environ, where)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if (
            isinstance(key_node, yaml.ScalarNode)
            and key_node.value == key
            and isinstance(value_node, yaml.Node)
        ):
            return value_node
    return None
