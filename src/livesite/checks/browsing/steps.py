"""The steps of a browser journey, as written in YAML, checked at load.

Each step does one thing: ``goto``, ``click``, ``fill``, ``select``, ``expect_text``, ``expect_url``,
``wait`` (a pause), ``wait_for`` (a selector) or ``script`` (``package.module:function``, an async
function given the page and the run's variables). Values may use run-time variables
(``${user.username}``, ``${user.password}``, ``${user.totp}``, ``${run.nonce}``); one that no run can
fill is a config error at the key that names it, as is a script that does not import.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from livesite.checks.variables import reference_problem, references
from livesite.config.models import Model
from livesite.config.types import Seconds, Timeout

if TYPE_CHECKING:
    from playwright.async_api import Page

# A ``script:`` step: given the page and the run's variables (read-only), it fails by raising.
Script = Callable[["Page", Mapping[str, str]], Awaitable[object]]
# The attributes the issue names for cohorts; the users pool may give others, which a run fills.
USER_ATTRIBUTES = ("plan", "locale", "zone", "segment")
ACTIONS = ("goto", "click", "fill", "select", "expect_text", "expect_url", "wait", "wait_for", "script")
MAX_WAIT_SECONDS = 600.0


def _variables(value: str | None) -> str | None:
    if value is not None:
        for name in references(value):
            problem = reference_problem(name, (), USER_ATTRIBUTES)
            if name.startswith("steps."):
                problem = f"${{{name}}}: browser steps extract no values (use a script step for that)"
            if problem is not None:
                raise ValueError(problem)
    return value


Text = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_variables)]


def load_script(reference: str) -> Script:
    """The async function ``package.module:function`` names.

    Raises:
        ValueError: it is not written so, does not import, or is not an async function.
    """
    module_name, sep, function_name = reference.partition(":")
    if not sep or not module_name or not function_name.isidentifier():
        raise ValueError(f"script {reference!r} is not package.module:function")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # any error while importing user code is the config's problem
        raise ValueError(
            f"script {reference!r}: module {module_name!r} does not import ({type(e).__name__}: {e}) "
            "(hint: is its folder on PYTHONPATH?)"
        ) from None
    function = getattr(module, function_name, None)
    if function is None:
        raise ValueError(f"script {reference!r}: {module_name} has no {function_name!r}")
    if not inspect.iscoroutinefunction(function):
        raise ValueError(
            f"script {reference!r} is not an async function (hint: async def {function_name}(page, variables))"
        )
    script: Script = function
    return script


def _script(value: str | None) -> str | None:
    if value is not None:
        load_script(value)
    return value


def _web_url(value: str) -> str:
    scheme = re.match(r"^([a-z][a-z0-9+.-]*):", value, re.I)
    if scheme is not None and scheme.group(1).lower() not in ("http", "https"):
        raise ValueError(
            f"goto {value[:80]!r}: a {scheme.group(1)}: URL is not a page of the site "
            "(hint: an http(s) URL, or a path on the zone's base_url)"
        )
    return value


class BrowserStep(Model):
    """One step of a browser journey: exactly one action, with what it needs."""

    name: str | None = Field(None, min_length=1, max_length=120)
    goto: Annotated[Text, AfterValidator(_web_url)] | None = Field(
        None, description="a URL, or a path on the zone's base_url"
    )
    click: Text | None = Field(None, description="a selector (CSS, text=..., role=...)")
    fill: Text | None = Field(None, description="the selector of an input; the text is value")
    select: Text | None = Field(None, description="the selector of a <select>; the option is value")
    value: Text | None = Field(None, description="what fill types or select chooses (by value or label)")
    expect_text: Text | None = Field(None, description="text the page (or selector) must show")
    selector: Text | None = Field(None, description="where expect_text looks; default the whole page")
    expect_url: Text | None = Field(None, description="text the page's URL must contain")
    wait: Seconds | None = Field(None, description="a pause, e.g. 500ms")
    wait_for: Text | None = Field(None, description="a selector that must become visible")
    script: Annotated[str, AfterValidator(_script)] | None = Field(
        None, description="package.module:function, an async function given (page, variables)"
    )
    timeout: Timeout | None = Field(None, description="how long this step may wait; default step_timeout")

    @model_validator(mode="after")
    def _one_action(self) -> BrowserStep:
        given = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(given) != 1:
            what = f"{' and '.join(given)} together" if given else "no action"
            raise ValueError(f"a step takes exactly one of {', '.join(ACTIONS)}, not {what}")
        action = given[0]
        if action in ("fill", "select") and self.value is None:
            raise ValueError(
                f"{action}: needs value (hint: {action}: '#email' with value: '${{user.username}}')"
            )
        if action not in ("fill", "select") and self.value is not None:
            raise ValueError(f"value: belongs to fill or select, not {action}")
        if action != "expect_text" and self.selector is not None:
            raise ValueError(
                f"selector: belongs to expect_text, not {action} (hint: {action}: takes the selector)"
            )
        if self.wait is not None and self.wait > MAX_WAIT_SECONDS:
            raise ValueError(f"wait: at most {MAX_WAIT_SECONDS:g}s; a longer pause belongs between runs")
        return self

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) is not None)

    @property
    def argument(self) -> str:
        """What the action acts on, as written (a URL, a selector, a text, a duration, a script)."""
        value: Any = getattr(self, self.action)
        return f"{value:g}s" if isinstance(value, float) else str(value)

    def title(self, index: int) -> str:
        """The step's name in a Result: its own, or ``<n> <action> <argument>``."""
        if self.name is not None:
            return self.name
        argument = self.argument if len(self.argument) <= 60 else self.argument[:59] + "…"
        return f"{index + 1} {self.action} {argument}"
