"""Load a config file (or a directory of them) into a validated :class:`Config`.

load → validate → plan → run: everything here happens before any check runs, and every problem
is reported as ``file:line:col: message (hint: ...)``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from livesite.config import models
from livesite.config.models import CheckBase, Config, config_model
from livesite.config.yamlsource import Source, load_source, parse_source
from livesite.errors import ConfigError, ConfigErrors

_SINGLETONS = ("defaults", "store", "monitor")

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


def _validate(source: Source, base_dir: Path, kinds: Kinds) -> Config:
    if not isinstance(source.data, dict):
        raise ConfigError.at(
            source.position(()), "a config file must be a mapping", hint="start with 'checks:' or 'zones:'"
        )
    model = config_model(list(kinds.values()))
    try:
        config = model.model_validate(source.data, context={"base_dir": base_dir})
    except ValidationError as e:
        errors = [_translate(err, source, kinds) for err in e.errors(include_url=False)]
        raise ConfigErrors(_unique(errors)) from None
    for i, check in enumerate(config.checks):
        check.with_substituted(source.substituted_under(("checks", i)))
    return config


def _unique(errors: list[ConfigError]) -> list[ConfigError]:
    seen: set[str] = set()
    out = []
    for err in errors:
        if str(err) not in seen:
            seen.add(str(err))
            out.append(err)
    return out


def _data_path(loc: tuple[str | int, ...], data: object, kinds: Kinds) -> tuple[str | int, ...]:
    """Pydantic's error location → the path in the YAML data (drops union tags it inserts)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            if part in node:
                path.append(part)
                node = node[part]
                continue
            if node.get("kind") == part or part in kinds:
                continue  # a discriminated union's tag, not a key
            alias = {"json_body": "json", "assertions": "assert"}.get(part, part)
            path.append(alias)
            node = node.get(alias)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        else:
            if isinstance(part, str) and not part.isidentifier():
                continue
            path.append(part)
            node = None
    return tuple(path)


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "<top>"


def _all_keys() -> list[str]:
    keys: set[str] = set()

    def walk(model: type[BaseModel]) -> None:
        for name, info in model.model_fields.items():
            keys.add(info.alias or name)
        for sub in model.__subclasses__():
            walk(sub)

    walk(models.Model)
    return sorted(keys)


def _check_name(source: Source, path: tuple[str | int, ...]) -> str:
    if len(path) >= 2 and path[0] == "checks" and isinstance(source.data, dict):
        checks = source.data.get("checks")
        index = path[1]
        if isinstance(checks, list) and isinstance(index, int) and index < len(checks):
            item = checks[index]
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                return f" (check {item['name']!r})"
    return ""


def _translate(err: ErrorDetails, source: Source, kinds: Kinds) -> ConfigError:
    path = _data_path(tuple(err["loc"]), source.data, kinds)
    where = _dotted(path) + _check_name(source, path)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        close = difflib.get_close_matches(key, _all_keys(), n=1, cutoff=0.6)
        advice = (
            f"did you mean {close[0]!r}?" if close else "remove it; see docs/configuration.md for the keys"
        )
        return ConfigError.at(source.position(path, key=True), f"unknown key {key!r} at {where}", advice)
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
    return ConfigError.at(source.position(path), f"{where}: {message}", hint)


def _combine(parts: list[tuple[Config, Source]], base_dir: Path) -> Config:
    errors: list[ConfigError] = []
    zones: list[models.Zone] = []
    checks: list[CheckBase] = []
    singles: dict[str, tuple[Config, Source]] = {}
    zone_at: dict[str, str] = {}
    check_at: dict[str, str] = {}
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
        for i, zone in enumerate(config.zones):
            if zone.name in zone_at:
                errors.append(
                    ConfigError.at(
                        source.position(("zones", i, "name")),
                        f"zone {zone.name!r} is defined twice",
                        hint=f"first defined at {zone_at[zone.name]}",
                    )
                )
            zone_at[zone.name] = str(source.position(("zones", i, "name")))
            zones.append(zone)
        for i, check in enumerate(config.checks):
            if check.name in check_at:
                errors.append(
                    ConfigError.at(
                        source.position(("checks", i, "name")),
                        f"check {check.name!r} is defined twice",
                        hint=f"first defined at {check_at[check.name]}; check names must be unique",
                    )
                )
            check_at[check.name] = str(source.position(("checks", i, "name")))
            checks.append(check)
    known = {z.name for z in zones} or {"local"}
    for config, source in parts:
        for i, check in enumerate(config.checks):
            for j, zone_name in enumerate(check.zones or []):
                if zone_name not in known:
                    close = difflib.get_close_matches(zone_name, sorted(known), n=1)
                    errors.append(
                        ConfigError.at(
                            source.position(("checks", i, "zones", j)),
                            f"check {check.name!r} names unknown zone {zone_name!r}",
                            hint=f"did you mean {close[0]!r}?"
                            if close
                            else f"zones: {', '.join(sorted(known))}",
                        )
                    )
            url = getattr(check, "url", None)
            if isinstance(url, str) and url.startswith("/"):
                targets = [z for z in zones if check.zones is None or z.name in check.zones]
                if not targets or any(z.base_url is None for z in targets):
                    errors.append(
                        ConfigError.at(
                            source.position(("checks", i, "url")),
                            f"check {check.name!r} has a relative url {url!r} but a zone has no base_url",
                            hint="give every zone a base_url, or write an absolute url",
                        )
                    )
    if errors:
        raise ConfigErrors(errors)
    empty = Config()
    return Config.model_construct(
        version=1,
        zones=zones,
        checks=checks,
        base_dir=base_dir,
        defaults=singles.get("defaults", (empty, None))[0].defaults,
        store=singles.get("store", (empty, None))[0].store,
        monitor=singles.get("monitor", (empty, None))[0].monitor,
    )
