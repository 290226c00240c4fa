"""livesite: testing in production.

Layers, imported only downward: ``cli``/``web`` → pillars (``monitor``, later ``rollout`` and
``chaos``; ``demo``) → services (``checks``, ``store``, ``net``) → core (``results``,
``assertions``, ``config``, ``states``, ``errors``, ``clock``). The core does no I/O.
"""

from livesite.assertions import Observation, evaluate, parse
from livesite.config import Config, load, loads
from livesite.errors import ConfigError, LivesiteError
from livesite.results import AssertionOutcome, Failure, FailureKind, Phases, Result, Status, StepResult
from livesite.states import CheckState, StateChange

__version__ = "0.1.0"

__all__ = [
    "AssertionOutcome",
    "CheckState",
    "Config",
    "ConfigError",
    "Failure",
    "FailureKind",
    "LivesiteError",
    "Observation",
    "Phases",
    "Result",
    "StateChange",
    "Status",
    "StepResult",
    "__version__",
    "evaluate",
    "load",
    "loads",
    "parse",
]
