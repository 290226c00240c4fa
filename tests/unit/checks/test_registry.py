import inspect
import typing

from livesite.checks import RUNNERS
from livesite.config.models import CheckSpec


def test_every_check_kind_in_the_config_has_exactly_one_runner() -> None:
    union = typing.get_args(typing.get_args(CheckSpec)[0])
    kinds = {typing.get_args(model.model_fields["kind"].annotation)[0] for model in union}
    assert kinds == set(RUNNERS)


def test_every_runner_is_an_async_function_of_spec_and_context() -> None:
    for kind, runner in RUNNERS.items():
        assert inspect.iscoroutinefunction(runner), kind
        assert list(inspect.signature(runner).parameters) == ["spec", "ctx"], kind
        assert runner.__module__ == f"livesite.checks.{kind}", "the file name is the kind name"
