"""The demo's options and its state file: what runs where, written before anything is started.

Other commands (`down`, `status`, `env`, control functions) only ever read this file, so the state file is the
single source of truth about which pids belong to the demo.
"""

from __future__ import annotations

import os
import re
import shlex
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from livesite.demo.defects import canonical
from livesite.demo.errors import DemoError

ComponentKind = Literal["shop", "front", "edge", "partner", "customers"]
STATE_FILE = "state.json"
ENV_STATE_DIR = "LIVESITE_DEMO_DIR"
_ZONE = re.compile(r"^zone-[a-z0-9]+$")


def default_state_dir() -> Path:
    """`$LIVESITE_DEMO_DIR`, else `.livesite/demo` under the current directory."""
    return Path(os.environ.get(ENV_STATE_DIR) or Path.cwd() / ".livesite" / "demo")


def state_dir_option(state_dir: Path) -> str:
    """` --state-dir DIR` for a follow-up command, or "" when DIR is where the command looks anyway."""
    if state_dir.expanduser().absolute() == default_state_dir().expanduser().absolute():
        return ""
    return f" --state-dir {shlex.quote(str(state_dir))}"


def zone_short(zone: str) -> str:
    """`zone-a` -> `a` (used in component names and env var names)."""
    return zone.removeprefix("zone-")


class DemoOptions(BaseModel):
    """What `up` starts. Defects are validated (and normalised) when the options are built."""

    model_config = ConfigDict(extra="forbid")

    revision: str = "v1"
    defects: list[str] = []
    token_ttl_seconds: float = Field(default=300, gt=0)
    customers_per_second: float = Field(default=0, ge=0, le=200)
    state_dir: Path
    zones: tuple[str, ...] = ("zone-a", "zone-b")
    instances_per_zone: int = Field(default=2, ge=1, le=9)
    cache_ttl_seconds: float = Field(default=30, gt=0)
    seed: int = 0

    @field_validator("revision")
    @classmethod
    def _revision(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError("a revision is letters, digits, '.', '_' or '-', e.g. v2")
        return value

    @field_validator("defects")
    @classmethod
    def _defects(cls, value: list[str]) -> list[str]:
        # a DefectError is not a ValueError, so pydantic lets it through with its list of valid defects
        return canonical(value)

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError("zones must be a non-empty list of distinct names")
        for zone in value:
            if not _ZONE.fullmatch(zone):
                raise ValueError(f"zone {zone!r} must look like zone-a (zone-<letters or digits>)")
        return value

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()


class Component(BaseModel):
    """One running process of the demo."""

    name: str
    kind: ComponentKind
    zone: str | None = None
    url: str
    port: int
    pid: int
    create_time: float
    health_path: str
    config_path: Path
    log_path: Path
    revision: str | None = None
    defects: list[str] = []


class DemoState(BaseModel):
    """The state file: options, shared database and every component with its pid."""

    state_dir: Path
    options: DemoOptions
    db_path: Path
    started_at: datetime
    components: list[Component]
    notices: list[str] = []
    # Made at `up`, required by every admin endpoint; "" in a state file written before there was one.
    admin_token: str = Field(default="", repr=False)

    def component(self, name: str) -> Component:
        """The component called `name`.

        Raises:
            DemoError: no such component.
        """
        for component in self.components:
            if component.name == name:
                return component
        known = ", ".join(c.name for c in self.components)
        raise DemoError(f"no demo component named {name!r}", hint=f"known components: {known}")

    def _of(self, kind: ComponentKind, zone: str | None) -> Component:
        for component in self.components:
            if component.kind == kind and component.zone == zone:
                return component
        raise DemoError(
            f"no {kind} in zone {zone!r}", hint=f"zones of this demo: {', '.join(self.options.zones)}"
        )

    def zone_url(self, zone: str) -> str:
        """The public URL of `zone` (its edge cache)."""
        return self._of("edge", zone).url

    def front_url(self, zone: str) -> str:
        """The URL of `zone`'s front (load balancer with the `/-/weights` admin API)."""
        return self._of("front", zone).url

    @property
    def partner_url(self) -> str:
        """The URL of the partner (payments API, widget, feedback, `/-/mode`)."""
        return self._of("partner", None).url

    def shops(self, zone: str | None = None) -> list[Component]:
        """Shop instances, all or those of one zone."""
        return [c for c in self.components if c.kind == "shop" and (zone is None or c.zone == zone)]

    def env(self) -> dict[str, str]:
        """Environment variables that point examples and tools at this demo."""
        out: dict[str, str] = {}
        for zone in self.options.zones:
            out[f"LIVESITE_DEMO_{zone.upper().replace('-', '_')}_URL"] = self.zone_url(zone)
        out["LIVESITE_DEMO_PARTNER_URL"] = self.partner_url
        for zone in self.options.zones:
            out[f"LIVESITE_DEMO_FRONT_{zone_short(zone).upper()}_URL"] = self.front_url(zone)
        out["LIVESITE_DEMO_STATE"] = str(self.state_dir / STATE_FILE)
        out["LIVESITE_DEMO_ADMIN_TOKEN"] = self.admin_token
        return out


class ComponentStatus(BaseModel):
    name: str
    kind: ComponentKind
    zone: str | None
    url: str
    pid: int
    alive: bool
    healthy: bool
    detail: str
    revision: str | None = None


class DemoStatus(BaseModel):
    """What `status` found: one row per component."""

    state_dir: Path
    running: bool
    components: list[ComponentStatus] = []

    @property
    def healthy(self) -> bool:
        return self.running and all(c.alive and c.healthy for c in self.components)


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def read_state(state_dir: Path) -> DemoState | None:
    """The state file in `state_dir`, or None when there is none.

    Raises:
        DemoError: the file exists but cannot be read.
    """
    path = state_path(state_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return DemoState.model_validate_json(text)
    except ValueError as exc:
        raise DemoError(
            f"the demo state file {path} is unreadable: {exc}",
            hint=f"stop stray processes by hand, then delete {path}",
        ) from exc


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner can read: state and settings files hold the admin token."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # an older file keeps its mode through O_CREAT
        f.write(text)


def write_state(state: DemoState) -> None:
    """Write the state file atomically (a reader never sees half a file), readable by its owner only."""
    path = state_path(state.state_dir)
    tmp = path.with_suffix(".tmp")
    write_private(tmp, state.model_dump_json(indent=2))
    tmp.replace(path)
