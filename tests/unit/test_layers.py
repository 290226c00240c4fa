"""Imports go one way: cli/web/scenario → pillars → services (the probe service among them) → core.
Pillars never import each other; they all run checks through ``livesite.probe``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "livesite"

CORE = {"results", "assertions", "config", "states", "errors", "clock", "runtime", "ids", "incidents"}
SERVICES = {"checks", "probe", "store", "net", "testing", "users", "analysis", "dataplane", "alerts"}
# The one upward import: the config loader builds the union of check specs from the registry of
# kinds, whose modules build on the config's models (a lazy import inside the loader).
EXCEPTIONS = {("config/load.py", "checks")}
PILLARS = {"monitor", "demo", "rollout", "chaos"}
TOP = {"web", "cli", "scenario", "chaostoolkit"}


def layer_of(part: str) -> str:
    for name, members in (("core", CORE), ("services", SERVICES), ("pillars", PILLARS), ("top", TOP)):
        if part in members:
            return name
    return "package"  # livesite/__init__.py


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("livesite."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("livesite.")}
    return found


MODULES = sorted(p for p in SRC.rglob("*.py"))
ALLOWED = {
    "core": {"core"},
    "services": {"core", "services"},
    "pillars": {"core", "services"},
    "top": {"core", "services", "pillars", "top"},
    "package": {"core"},
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_a_module_imports_only_from_its_own_layer_or_below(path: Path) -> None:
    rel = path.relative_to(SRC)
    own = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" else "package"
    layer = layer_of(own)
    for target in imports(path) - {own}:
        if (str(rel), target) in EXCEPTIONS:
            continue
        target_layer = layer_of(target)
        assert target_layer in ALLOWED[layer], f"{rel} ({layer}) imports livesite.{target} ({target_layer})"
        if layer == "pillars":
            assert target not in PILLARS, f"{rel}: pillars never import each other (livesite.{target})"


def test_the_core_does_no_io() -> None:
    banned = {"socket", "asyncio", "sqlite3", "subprocess", "httpx", "urllib.request", "os"}
    for part in ("results.py", "states.py", "errors.py", "assertions"):
        for path in (SRC / part).rglob("*.py") if (SRC / part).is_dir() else [SRC / part]:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert not names & banned, f"{path.relative_to(SRC)} imports {names & banned}"
