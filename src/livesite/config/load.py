"""Load a config file (or a directory of them) into a validated :class:`Config`.

load → validate → plan → run: everything here happens before any check runs, and every problem
is reported as ``file:line:col: message (hint: ...)``.
"""

from __future__ import annotations

import difflib
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, TypeGuard, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from livesite.config import cohorts, consistency, models
from livesite.config.models import CheckBase, Config, Partner, config_model
from livesite.config.yamlsource import Source, load_source, parse_source
from livesite.errors import ConfigError, ConfigErrors

_SINGLETONS = ("defaults", "store", "monitor", "monkey", "users")

# Kind name → spec model. The default comes from the registry of check kinds (livesite.checks.KINDS),
# imported when first needed: checks build on these models, so config cannot import them up front.
Kinds = Mapping[str, type[CheckBase]]


def _default_kinds() -> Kinds:
    from livesite.checks import KINDS

    return {name: kind.spec for name, kind in KINDS.items()}


def load(path: str | Path, env: Mapping[str, str] | None = None, *, kinds: Kinds | None = None) -> Config:
    """Load and validate a YAML file, or every ``*.yaml``/``*.yml`` file of a directory.

    ``kinds`` maps check kind names to their spec models (default: every built-in kind).

    Raises:
        ConfigError: with file, line, column and a hint (a ``ConfigErrors`` when there are several).
    """
    kinds = _default_kinds() if kinds is None else kinds
    root = Path(path)
    env = os.environ if env is None else env
    if root.is_dir():
        files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
        if not files:
            raise ConfigError(f"no *.yaml files in directory {root}", file=str(root))
        sources = [load_source(f, env) for f in files]
        base_dir = root
    else:
        sources = [load_source(root, env)]
        base_dir = root.parent
    return _combine([(_validate(s, base_dir, kinds), s) for s in sources], base_dir)


def loads(
    text: str, file: str = "<string>", env: Mapping[str, str] | None = None, *, kinds: Kinds | None = None
) -> Config:
    """Load a config from text (for tests and for configs built by other tools)."""
    kinds = _default_kinds() if kinds is None else kinds
    source = parse_source(text, file, os.environ if env is None else env)
    return _combine([(_validate(source, Path("."), kinds), source)], Path("."))


M = TypeVar("M", bound=BaseModel)


def load_document(path: str | Path, model: type[M], env: Mapping[str, str] | None = None) -> M:
    """Load a YAML document of another shape than a config (a rollout, an experiment) into ``model``,
    with the same ``${VAR}`` filling and the same file:line errors as a config."""
    path = Path(path)
    source = load_source(path, os.environ if env is None else env)
    return _validate_document(source, model, path.parent)


def loads_document(
    text: str, model: type[M], file: str = "<string>", env: Mapping[str, str] | None = None
) -> M:
    source = parse_source(text, file, os.environ if env is None else env)
    return _validate_document(source, model, Path("."))


def _validate_document(source: Source, model: type[M], base_dir: Path) -> M:
    try:
        return model.model_validate(source.data, context={"base_dir": base_dir})
    except ValidationError as e:
        details = _without_sibling_branches(e.errors(include_url=False), model)
        raise ConfigErrors(_unique([_translate(err, source, model, {}) for err in details])) from None


def _validate(source: Source, base_dir: Path, kinds: Kinds) -> Config:
    if not isinstance(source.data, dict):
        raise ConfigError.at(
            source.position(()), "a config file must be a mapping", hint="start with 'checks:' or 'zones:'"
        )
    if "base_dir" in source.data:  # a field of Config, but set by the loader, never by a file
        raise ConfigError.at(
            source.position(("base_dir",), key=True),
            "unknown key 'base_dir' at base_dir",
            hint="remove it: relative paths start at the config's own folder",
        )
    model = config_model(list(kinds.values()))
    try:
        config = model.model_validate(source.data, context={"base_dir": base_dir})
    except ValidationError as e:
        details = _without_sibling_branches(e.errors(include_url=False), model)
        errors = [_translate(err, source, model, kinds) for err in details]
        raise ConfigErrors(_unique(errors)) from None
    by_check: dict[object, list[str]] = {}
    for path, values in source.substituted.items():  # one pass: a check per ${VAR} would be quadratic
        if len(path) >= 2 and path[0] == "checks":
            by_check.setdefault(path[1], []).extend(values)
    for i, check in enumerate(config.checks):
        check.with_substituted(by_check.get(i, ()))
    return config


def _unique(errors: list[ConfigError]) -> list[ConfigError]:
    seen: set[str] = set()
    out = []
    for err in errors:
        if str(err) not in seen:
            seen.add(str(err))
            out.append(err)
    return out


def _without_sibling_branches(errors: list[ErrorDetails], model: type[BaseModel]) -> list[ErrorDetails]:
    """Drop "should be a valid boolean" for a mapping given to ``bool | TlsSettings``: the mapping was
    meant for the model, whose own errors are the ones to show."""

    def branch(loc: tuple[str | int, ...]) -> bool:  # the last part names a union member, not a key
        return bool(loc) and len(_walk(loc, model)[0]) == len(_walk(loc[:-1], model)[0])

    kept = []
    for err in errors:
        loc = tuple(err["loc"])
        if (
            err["type"].endswith("_type")
            and isinstance(err.get("input"), dict | list)
            and branch(loc)
            and any(tuple(o["loc"][: len(loc) - 1]) == loc[:-1] and tuple(o["loc"]) != loc for o in errors)
        ):
            continue
        kept.append(err)
    return kept or errors


def _members(annotation: object) -> list[object]:
    """An annotation's possible types: Annotated and Optional unwrapped, unions spread."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) if arg is not type(None) for m in _members(arg)]
    return [annotation]


def _is_model(t: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _walk(loc: tuple[str | int, ...], root: type[BaseModel]) -> tuple[tuple[str | int, ...], list[object]]:
    """Pydantic's error location → (the path in the YAML data, the types found at its end).

    Union tags pydantic inserts (a check's kind, a member's class name) are not keys, and a field is
    named as written in YAML (``assert``, not ``assertions``).
    """
    found: list[object] = [root]
    path: list[str | int] = []
    for part in loc:
        candidates = [m for t in found for m in _members(t)]
        if isinstance(part, int):
            path.append(part)
            found = [get_args(t)[0] for t in candidates if get_origin(t) in (list, tuple) and get_args(t)]
            continue
        fields = [
            (info.alias or name, info.annotation)
            for t in candidates
            if _is_model(t)
            for name, info in t.model_fields.items()
            if part in (name, info.alias)
        ]
        if fields:
            path.append(fields[0][0])
            found = [annotation for _, annotation in fields]
            continue
        tagged: list[object] = [
            t
            for t in candidates
            if isinstance(t, type)
            and (t.__name__ == part or (issubclass(t, CheckBase) and t.kind_name() == part))
        ]
        if tagged:
            found = tagged
            continue
        mappings = [get_args(t)[1] for t in candidates if get_origin(t) is dict and len(get_args(t)) == 2]
        if mappings:
            path.append(part)
            found = mappings
            continue
        if not part.isidentifier():
            continue  # one of pydantic's own step names, e.g. function-after[...]
        path.append(part)
        found = []
    return tuple(path), found


def _keys_of(found: list[object]) -> list[str]:
    """The keys a YAML mapping may hold where the models in ``found`` are expected."""
    keys: set[str] = set()
    for t in found:
        for m in _members(t):
            if _is_model(m):
                keys.update(info.alias or name for name, info in m.model_fields.items() if not info.exclude)
                keys.update(getattr(m, "FILE_KEYS", ()))
    return sorted(keys)


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "<top>"


def _check_name(source: Source, path: tuple[str | int, ...]) -> str:
    if len(path) >= 2 and path[0] == "checks" and isinstance(source.data, dict):
        checks = source.data.get("checks")
        index = path[1]
        if isinstance(checks, list) and isinstance(index, int) and index < len(checks):
            item = checks[index]
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                return f" (check {item['name']!r})"
    return ""


def _translate(err: ErrorDetails, source: Source, model: type[BaseModel], kinds: Kinds) -> ConfigError:
    loc = tuple(err["loc"])
    path, _ = _walk(loc, model)
    where = _dotted(path) + _check_name(source, path)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        # Only keys of the model the key was written in: `user:` in a check is not BasicAuth's `username`.
        _, parents = _walk(loc[:-1], model)
        close = _closest(key, _keys_of(parents))
        advice = f"did you mean {close!r}?" if close else "remove it; see docs/configuration.md for the keys"
        return ConfigError.at(source.position(path, key=True), f"unknown key {key[:60]!r} at {where}", advice)
    if kind == "missing":
        return ConfigError.at(
            source.position(path[:-1]), f"missing required key {path[-1]!r} at {_dotted(path[:-1])}", None
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ", ".join(kinds)
        return ConfigError.at(
            source.position(path + ("kind",)),
            f"unknown or missing check kind at {where}",
            hint=f"set kind to one of: {tags}",
        )
    message = err["msg"].removeprefix("Value error, ")
    hint: str | None = None
    if " (hint: " in message:
        message, _, rest = message.partition(" (hint: ")
        hint = rest.removesuffix(")")
    if kind == "string_type":
        hint = _quote_hint(err.get("input"))
    key, sep, rest = message.partition(": ")
    if sep and key in _keys_of(_walk(loc, model)[1]):
        # A model's own check that names one of its keys ("password_file: ...") points at that key.
        path = (*path, key)
        where = _dotted(path) + _check_name(source, path)
        message = rest
    return ConfigError.at(source.position(path), f"{where}: {message}", hint)


def _closest(key: str, keys: list[str]) -> str | None:
    """The key ``key`` was probably meant to be: a longer or shorter spelling of it (``user`` for
    ``username``), else the closest by difflib's measure."""
    if len(key) >= 3:
        stems = [k for k in keys if k != key and (k.startswith(key) or key.startswith(k)) and len(k) >= 3]
        if len(stems) == 1:
            return stems[0]
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.7)
    return close[0] if close else None


def _quote_hint(value: object) -> str | None:
    """YAML reads some unquoted text as another type; say so where text was expected."""
    if isinstance(value, bool):
        return "YAML reads yes, no, on, off, true and false as booleans: quote the value, e.g. 'yes'"
    if isinstance(value, int | float):
        return "YAML reads this as a number: quote the value to keep it as text, e.g. '1.10'"
    if value is None:
        return "an empty value is null in YAML: give a value, or quote an empty one ('')"
    return None


N = TypeVar("N", models.Zone, Partner, CheckBase)


def _named_once(
    items: list[N],
    key: str,
    what: str,
    source: Source,
    first_at: dict[str, str],
    errors: list[ConfigError],
    rule: str = "",
) -> list[N]:
    """``items`` of one file; a name already defined (in this file or another) is an error at its line."""
    for i, item in enumerate(items):
        where = source.position((key, i, "name"))
        if item.name in first_at:
            errors.append(
                ConfigError.at(
                    where,
                    f"{what} {item.name!r} is defined twice",
                    hint=f"first defined at {first_at[item.name]}{rule}",
                )
            )
        first_at[item.name] = str(where)
    return items


def _combine(parts: list[tuple[Config, Source]], base_dir: Path) -> Config:
    errors: list[ConfigError] = []
    zones: list[models.Zone] = []
    checks: list[CheckBase] = []
    singles: dict[str, tuple[Config, Source]] = {}
    zone_at: dict[str, str] = {}
    check_at: dict[str, str] = {}
    partners: list[Partner] = []
    partner_at: dict[str, str] = {}
    for config, source in parts:
        data = source.data if isinstance(source.data, dict) else {}
        for key in _SINGLETONS:
            if key in data:
                if key in singles:
                    errors.append(
                        ConfigError.at(
                            source.position((key,), key=True),
                            f"{key!r} is also set in {singles[key][1].file}",
                            hint=f"keep one '{key}:' section across the directory",
                        )
                    )
                singles[key] = (config, source)
        zones += _named_once(config.zones, "zones", "zone", source, zone_at, errors)
        partners += _named_once(config.partners, "partners", "partner", source, partner_at, errors)
        checks += _named_once(
            config.checks, "checks", "check", source, check_at, errors, "; check names must be unique"
        )
    empty = Config()
    defaults = singles.get("defaults", (empty, None))[0].defaults
    errors += consistency.problems(parts, zones, defaults, base_dir, partners=partners)
    users = singles.get("users", (empty, None))
    errors += cohorts.problems(parts, users[0].users, users[1], zones)
    if errors:
        raise ConfigErrors(errors)
    return Config.model_construct(
        version=1,
        zones=zones,
        checks=checks,
        base_dir=base_dir,
        defaults=defaults,
        store=singles.get("store", (empty, None))[0].store,
        monitor=singles.get("monitor", (empty, None))[0].monitor,
        monkey=singles.get("monkey", (empty, None))[0].monkey,
        partners=partners,
        users=users[0].users,
    )
