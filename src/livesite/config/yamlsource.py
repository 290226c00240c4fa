"""YAML text → plain data plus the position of every key and value, with ``${ENV}`` filled in.

Positions let every later error say ``file:line:col``. Interpolation happens here, on scalars, so
a missing variable is reported where it was written.

Nothing a file holds may cost more than its size suggests, so before a value is built:

- the text is scanned for characters YAML forbids (NUL, other control characters), reported at
  their line and column;
- the node graph's expanded size is counted once per node (aliases share nodes, so a billion-laughs
  file costs a few thousand steps to refuse) and its depth is bounded;
- every ``${...}`` value filled in counts against a budget, and a ``${file:...}`` is read once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from livesite.config.files import CONFIG_MAX_BYTES, decode, line_col, read_bytes
from livesite.config.interpolate import interpolate as interpolate  # where cli.stores finds it
from livesite.errors import ConfigError, Position

Path_ = tuple[str | int, ...]

# libyaml's parser when it is there: 10,000 checks load in about a second instead of ten.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_VALUES = 1_000_000  # values after aliases are expanded: about 50,000 checks, beyond any real config
MAX_DEPTH = 100  # levels of nesting; a config needs about ten, a JSON body a few more
MAX_SUBSTITUTED_CHARS = CONFIG_MAX_BYTES  # everything ${...} fills in, together

# What YAML 1.1 does not allow in a stream (libyaml refuses it without a line): C0 controls but tab
# and line breaks, DEL, C1 controls but NEL, surrogates, U+FFFE and U+FFFF.
_FORBIDDEN_RE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TAG_PREFIX = "tag:yaml.org,2002:"


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


def read_config(path: Path) -> str:
    """The text of one config file: a regular file of at most 8 MiB, UTF-8, without NUL bytes.

    Raises:
        ConfigError: the file is missing, not a regular file (a device, a FIFO), too large or not
            UTF-8 text; a bad byte is reported at its line and column.
    """
    what = "config file"
    try:
        data = read_bytes(path, CONFIG_MAX_BYTES, what)
    except ValueError as e:
        if not path.exists() and not path.is_symlink():
            raise ConfigError(
                f"config file not found: {path}", file=str(path), hint="check the path"
            ) from None
        raise ConfigError(str(e), file=str(path)) from None
    try:
        return decode(data, path, what)
    except ValueError:
        pass
    # Say where, as for any other error in the file: an editor jumps to the bad byte.
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = line_col(data, e.start)
        raise ConfigError(
            f"invalid UTF-8: byte 0x{data[e.start]:02x}",
            file=str(path),
            line=line,
            col=col,
            hint="save the file as UTF-8",
        ) from None
    return data.decode("utf-8").removeprefix("\ufeff")  # a NUL: parse_source says where


def load_source(path: Path, env: Mapping[str, str] | None = None) -> Source:
    """Read and parse one YAML file.

    Raises:
        ConfigError: the file cannot be read, is not valid YAML, has a duplicate key or names an
            environment variable that is not set.
    """
    return parse_source(read_config(path), str(path), os.environ if env is None else env)


def parse_source(text: str, file: str, env: Mapping[str, str]) -> Source:
    """Parse YAML text into a :class:`Source` (``file`` names it in errors).

    Raises:
        ConfigError: as :func:`load_source`.
    """
    if len(text) > CONFIG_MAX_BYTES:
        raise ConfigError(f"the config is larger than {CONFIG_MAX_BYTES // 2**20} MiB", file=file)
    _refuse_forbidden_characters(text, file)
    try:
        loader = _Loader(text)  # the pure-Python reader checks characters here (the scan above did)
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {_problem(e)}", file=file) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ConfigError(
            f"invalid YAML: {e.problem or 'cannot parse'}",
            file=file,
            line=line,
            col=col,
            hint=_parse_hint(text, e),
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {' '.join(str(e).split())}", file=file) from None
    finally:
        loader.dispose()
    source = Source(file=file, data=None)
    if node is None:
        source.data = {}
        return source
    _refuse_expansion(node, file)
    source.data = _Builder(source, loader, env).build(node, ())
    return source


def _refuse_forbidden_characters(text: str, file: str) -> None:
    m = _FORBIDDEN_RE.search(text)
    if m is None:
        return
    index = m.start()
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    code = ord(m.group())
    if code == 0:
        raise ConfigError(
            "a NUL character: is this a binary file?",
            file=file,
            line=line,
            col=col,
            hint="a config is YAML text",
        )
    raise ConfigError(
        f"control character U+{code:04X} is not allowed in YAML",
        file=file,
        line=line,
        col=col,
        hint=f'remove it; inside double quotes it can be written as "\\u{code:04x}"'
        if code < 0xD800
        else "remove it",
    )


def _parse_hint(text: str, e: yaml.MarkedYAMLError) -> str:
    """Name the fix for the flow-style traps: ``[status in [201, 409]]`` and ``{a: ${X}}``."""
    mark = e.problem_mark
    context = e.context or ""
    if mark is not None and "flow" in context:
        lines = text.split("\n")
        line = lines[mark.line] if mark.line < len(lines) else ""
        here = line[mark.column : mark.column + 1]
        before = line[mark.column - 1 : mark.column] if mark.column else ""
        if here == "{" and before == "$":
            return (
                "quote a ${VAR} inside [...] or {...}, e.g. {X-Price: '${PRICE}'}, or write one key per line"
            )
        if here in ("[", "{"):
            return (
                "inside [...] or {...} quote a value that holds brackets, e.g. "
                "assert: ['status in [201, 409]'], or write one item per line: - status in [201, 409]"
            )
    return "check indentation and quoting"


def _pos(file: str, node: yaml.Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _children(node: yaml.CollectionNode) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    else:
        yield from node.value


def _refuse_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a node graph that expands past :data:`MAX_VALUES` or :data:`MAX_DEPTH`, or loops.

    An alias is the very node its anchor names, so each node's expanded size is counted once and
    reused: refusing ten levels of ten aliases (10¹⁰ values) takes about a hundred steps. Merge keys
    (``<<: *base``) count as the mapping they copy, an upper bound of what they add.
    """
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    active: set[int] = set()

    def too_deep(node: yaml.Node) -> ConfigError:
        return ConfigError.at(
            _pos(file, node),
            f"values are nested more than {MAX_DEPTH} levels deep",
            hint="a config needs a few levels; check for aliases (*name) inside their own anchors' values",
        )

    def visit(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            if depth + heights[key] > MAX_DEPTH:
                raise too_deep(node)
            return sizes[key]
        if depth > MAX_DEPTH:
            raise too_deep(node)
        if not isinstance(node, yaml.CollectionNode):
            return 1
        if key in active:
            raise ConfigError.at(
                _pos(file, node),
                "a YAML alias refers to itself",
                hint="an anchor cannot contain its own alias",
            )
        active.add(key)
        total, height = 1, 0
        for child in _children(node):
            if type(child) is yaml.ScalarNode:  # most nodes: counted here, without a call
                total += 1
                height = max(height, 1)
                if depth >= MAX_DEPTH:
                    raise too_deep(child)
                continue
            total += visit(child, depth + 1)
            height = max(height, heights.get(id(child), 0) + 1)
            if total > MAX_VALUES:
                raise ConfigError.at(
                    _pos(file, node),
                    f"this value expands to more than {MAX_VALUES:,} values",
                    hint="aliases (*name) here repeat large anchors (&name); split huge configs into a directory",
                )
        active.discard(key)
        sizes[key], heights[key] = total, height
        return total

    visit(root, 0)


class _Builder:
    """Builds plain data from a node graph already known to be finite and small enough."""

    def __init__(self, src: Source, loader: yaml.SafeLoader, env: Mapping[str, str]) -> None:
        self.src = src
        self.loader = loader
        self.env = env
        # A ${...} scalar an alias repeats is filled in once; the copies share the result. (Other
        # scalars are shared by the loader, which constructs each node once.)
        self.filled: dict[int, tuple[str, list[str]]] = {}
        self.files: dict[Path, str] = {}
        self.substituted_chars = 0

    def build(self, node: yaml.Node, path: Path_) -> object:
        src = self.src
        where = src.values[path] = Position(src.file, node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        try:
            value = self.loader.construct_object(node, deep=True)
        except RecursionError:
            raise ConfigError.at(where, "invalid value: nested too deeply") from None
        except Exception as e:  # a constructor may fail any way (`!!timestamp x`: AttributeError)
            raise _invalid(where, node, e) from None
        if not (isinstance(value, str) and "$" in value):
            return value
        filled = self.filled.get(id(node))
        if filled is None:
            filled = self.filled[id(node)] = self._fill(value, where)
        text, found = filled
        if found:
            src.substituted[path] = found
        return text

    def _fill(self, value: str, where: Position) -> tuple[str, list[str]]:
        found: list[str] = []
        text = interpolate(value, self.env, where, found, files=self.files)
        self.substituted_chars += sum(len(v) for v in found)
        if self.substituted_chars > MAX_SUBSTITUTED_CHARS:
            raise ConfigError.at(
                where,
                f"values filled in from ${{...}} add up to more than {MAX_SUBSTITUTED_CHARS // 2**20} MiB",
                hint="a config refers to secrets and addresses, not to large files",
            )
        return text, found

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, object]:
        src = self.src
        explicit = sum(1 for key_node, _ in node.value if key_node.tag != _TAG_PREFIX + "merge")
        try:
            self.loader.flatten_mapping(node)  # resolves YAML merge keys (<<: *defaults)
        except yaml.YAMLError as e:  # e.g. `<<: 5`
            raise ConfigError.at(_pos(src.file, node), f"invalid merge key: {_problem(e)}") from None
        merged = len(node.value) - explicit  # flatten_mapping puts the merged pairs first
        from_merge: set[str] = set()  # keys whose value came from a merge: a key written here overrides them
        out: dict[str, object] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            if isinstance(key_node, yaml.CollectionNode):
                raise ConfigError.at(_pos(src.file, key_node), "a mapping key must be a plain scalar")
            key = self.build(key_node, path + ("<key>",))
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
            out[skey] = self.build(value_node, path + (skey,))
        src.values.pop(path + ("<key>",), None)
        src.substituted.pop(path + ("<key>",), None)
        return out


def _invalid(where: Position, node: yaml.Node, e: Exception) -> ConfigError:
    tag = node.tag or ""
    shown = "!!" + tag.removeprefix(_TAG_PREFIX) if tag.startswith(_TAG_PREFIX) else tag
    if isinstance(e, yaml.constructor.ConstructorError) and "could not determine a constructor" in str(e):
        return ConfigError.at(
            where, f"unknown tag {shown[:60]}", hint="livesite reads plain YAML values: remove the tag"
        )
    if isinstance(e, ValueError) and "Exceeds the limit" in str(e):
        return ConfigError.at(where, "invalid value: a number with more than 4,300 digits")
    if isinstance(node, yaml.ScalarNode):
        return ConfigError.at(where, f"invalid value: {str(node.value)[:60]!r} is not a valid {shown[:60]}")
    return ConfigError.at(where, f"invalid value: {_problem(e)}")


def _problem(e: BaseException) -> str:
    """The one-line reason of a YAML error (its str() adds a multi-line excerpt of the input)."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem:
        return e.problem
    return " ".join(str(e).split())[:200] or type(e).__name__
