"""YAML text → plain data plus the position of every key and value, with ``${ENV}`` filled in.

Positions let every later error say ``file:line:col``. Interpolation happens here, on scalars, so
a missing variable is reported where it was written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from livesite.errors import ConfigError, Position

Path_ = tuple[str | int, ...]

# libyaml's parser when it is there: 10,000 checks load in about a second instead of ten.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_NODES = 1_000_000  # about 50,000 checks; far beyond any real config

_VAR_RE = re.compile(r"\$\$|\$\{([^}]*)\}")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(slots=True)
class Source:
    """A parsed YAML document with its positions (values and keys, by path)."""

    file: str
    data: object
    values: dict[Path_, Position] = field(default_factory=dict)
    keys: dict[Path_, Position] = field(default_factory=dict)
    # Values filled in from ${VAR} and ${file:...}, by the path of the scalar they went into: where
    # they land in a header, a query or a body, the redactor treats them as secrets.
    substituted: dict[Path_, list[str]] = field(default_factory=dict)

    def substituted_under(self, prefix: Path_) -> list[str]:
        n = len(prefix)
        return [v for path, values in self.substituted.items() if path[:n] == prefix for v in values]

    def position(self, path: Path_, *, key: bool = False) -> Position | None:
        """The nearest known position for a path: the key or value itself, else its closest parent."""
        if key and path in self.keys:
            return self.keys[path]
        probe = path
        while True:
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return None
            probe = probe[:-1]


def load_source(path: Path, env: Mapping[str, str] | None = None) -> Source:
    """Read and parse one YAML file.

    Raises:
        ConfigError: the file cannot be read, is not valid YAML, has a duplicate key or names an
            environment variable that is not set.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", file=str(path), hint="check the path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file: {e}", file=str(path)) from None
    return parse_source(text, str(path), os.environ if env is None else env)


def parse_source(text: str, file: str, env: Mapping[str, str]) -> Source:
    try:
        loader = _Loader(text)  # its reader already rejects control characters
    except yaml.YAMLError as e:
        raise ConfigError(
            f"invalid YAML: {_problem(e)}", file=file, hint="remove control characters"
        ) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = e.problem or "invalid YAML"
        raise ConfigError(
            f"invalid YAML: {problem}", file=file, line=line, col=col, hint="check indentation and quoting"
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", file=file) from None
    finally:
        loader.dispose()
    source = Source(file=file, data=None)
    if node is None:
        source.data = {}
        return source
    source.data = _build(node, (), source, loader, env, set())
    return source


def _problem(e: Exception) -> str:
    """The one-line reason of a YAML error (its str() adds a multi-line excerpt of the input)."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem:
        return e.problem
    return str(e)


def _pos(file: str, node: yaml.Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _build(
    node: yaml.Node,
    path: Path_,
    src: Source,
    loader: yaml.SafeLoader,
    env: Mapping[str, str],
    active: set[int],  # the collection nodes being built above this one, to catch `&a [*a]`
) -> object:
    src.values[path] = _pos(src.file, node)
    if len(src.values) > MAX_NODES:
        # Aliases can expand a small file into billions of nodes ("billion laughs"): stop early.
        raise ConfigError.at(
            _pos(src.file, node),
            f"the config expands to more than {MAX_NODES:,} values",
            hint="check for aliases (*name) that repeat large anchors; split huge configs into a directory",
        )
    if isinstance(node, yaml.CollectionNode):
        if id(node) in active:
            raise ConfigError.at(
                _pos(src.file, node),
                "a YAML alias refers to itself",
                hint="an anchor cannot contain its own alias",
            )
        active.add(id(node))
        try:
            return _build_collection(node, path, src, loader, env, active)
        finally:
            active.discard(id(node))
    try:
        value = loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as e:  # e.g. `!!int x`, `!foo`
        raise ConfigError.at(_pos(src.file, node), f"invalid value: {_problem(e)}") from None
    if isinstance(value, str) and "$" in value:
        found: list[str] = []
        value = interpolate(value, env, _pos(src.file, node), found)
        if found:
            src.substituted[path] = found
    return value


def _build_collection(
    node: yaml.CollectionNode,
    path: Path_,
    src: Source,
    loader: yaml.SafeLoader,
    env: Mapping[str, str],
    active: set[int],
) -> object:
    if isinstance(node, yaml.MappingNode):
        explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        try:
            loader.flatten_mapping(node)  # resolves YAML merge keys (<<: *defaults)
        except yaml.YAMLError as e:  # e.g. `<<: 5`
            raise ConfigError.at(_pos(src.file, node), f"invalid merge key: {_problem(e)}") from None
        merged = len(node.value) - explicit  # flatten_mapping puts the merged pairs first
        from_merge: set[str] = set()  # keys whose value came from a merge: a key written here overrides them
        out: dict[str, object] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = _build(key_node, path + ("<key>",), src, loader, env, active)
            if not isinstance(key, str | int | float | bool):
                raise ConfigError.at(_pos(src.file, key_node), "a mapping key must be a plain scalar")
            skey = str(key)
            if skey in from_merge:
                from_merge.discard(skey)
            elif skey in out:
                raise ConfigError.at(
                    _pos(src.file, key_node),
                    f"duplicate key {skey!r}",
                    hint="each key may appear once per mapping",
                )
            if index < merged:
                from_merge.add(skey)
            src.keys[path + (skey,)] = _pos(src.file, key_node)
            out[skey] = _build(value_node, path + (skey,), src, loader, env, active)
        src.values.pop(path + ("<key>",), None)
        return out
    return [_build(item, path + (i,), src, loader, env, active) for i, item in enumerate(node.value)]


def interpolate(
    text: str, env: Mapping[str, str], where: Position | None = None, found: list[str] | None = None
) -> str:
    """Fill ``${VAR}``, ``${VAR:-default}`` and ``${file:path}``; ``$$`` is a literal ``$``.

    Every value filled in is appended to ``found`` when given.

    Raises:
        ConfigError: a variable is not set and has no default, or a file cannot be read.
    """

    def one(m: re.Match[str]) -> str:
        value = _one(m)
        if found is not None and m.group(0) != "$$":
            found.append(value)
        return value

    def _one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        expr = m.group(1)
        if expr.startswith("file:"):
            target = Path(expr[5:]).expanduser()
            if not target.is_absolute() and where is not None:
                target = Path(where.file).resolve().parent / target
            try:
                return target.read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ConfigError.at(where, f"cannot read secret file {target}: {e.strerror}") from None
        name, sep, default = expr.partition(":-")
        if not _NAME_RE.match(name):
            raise ConfigError.at(
                where, f"bad variable reference ${{{expr}}}", hint="write ${NAME} or ${NAME:-default}"
            )
        if name in env and env[name] != "":
            return env[name]
        if sep:
            return default
        raise ConfigError.at(
            where,
            f"environment variable {name} is not set",
            hint=f"export {name}=... or write ${{{name}:-default}}",
        )

    return _VAR_RE.sub(one, text)
