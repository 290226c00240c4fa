"""What each demo process is told at start: one settings model per component kind.

The parent writes a component's settings as JSON into the state directory and starts
`python -m livesite.demo.<kind> --config FILE --fd N`, where N is the listening socket it bound for the child
(binding in the parent means a port can never be taken between choosing and listening).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

PartnerMode = Literal["ok", "slow", "error", "down"]


class ComponentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    zone: str | None = None
    state_dir: Path
    admin_token: str = Field(min_length=16, repr=False)  # guards the component's admin endpoints


class ShopSettings(ComponentSettings):
    revision: str
    defects: list[str] = []
    db_path: Path
    partner_url: str
    edge_purge_urls: dict[str, str] = {}  # zone -> edge base URL
    token_ttl_seconds: float
    refresh_ttl_seconds: float
    cache_max_age_seconds: int
    seed: int = 0


class FrontSettings(ComponentSettings):
    backends: dict[str, str]  # instance name -> base URL
    weights: dict[str, int]
    failover: bool = True  # off with the `no-failover` defect: no retry elsewhere, no health checks


class EdgeSettings(ComponentSettings):
    upstream_url: str
    ttl_seconds: float


class PartnerSettings(ComponentSettings):
    mode: PartnerMode = "ok"
    delay_ms: int = 0


class CustomersSettings(ComponentSettings):
    zone_urls: list[str]
    rate_per_second: float
    seed: int = 0


S = TypeVar("S", bound=ComponentSettings)


def load(model: type[S], argv: Sequence[str] | None = None) -> tuple[S, int]:
    """Parse `--config FILE --fd N` and read the settings file into `model`."""
    parser = argparse.ArgumentParser(description=f"livesite demo component ({model.__name__})")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    return model.model_validate_json(args.config.read_text()), args.fd
