"""The query models of store/base.py and the records of store/_rows.py, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from livesite.results import DnsObservation, HttpObservation, Result, SocketObservation, Status, StepResult
from livesite.store._rows import record_json
from livesite.store.base import MAX_SAMPLE_BUCKETS, ResultQuery, SampleQuery, Samples

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def test_a_result_query_takes_one_status_or_several() -> None:
    assert ResultQuery(status=Status.failed).statuses == frozenset({Status.failed})
    several = ResultQuery.model_validate({"status": ["failed", "error"]})
    assert several.statuses == frozenset({Status.failed, Status.error})
    assert ResultQuery().statuses is None


def test_a_result_query_refuses_an_empty_set_of_statuses() -> None:
    with pytest.raises(ValidationError, match="at least one status"):
        ResultQuery(status=frozenset())


def test_a_sample_query_cuts_its_window_into_buckets_the_last_one_short() -> None:
    query = SampleQuery(check="web", since=T0, until=T0 + timedelta(seconds=250), interval_seconds=100)
    assert query.buckets == 3
    assert SampleQuery(check="web", since=T0, until=T0 + timedelta(seconds=1)).buckets == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"until": T0}, "must be after since"),
        ({"interval_seconds": 0}, "greater than 0"),
        ({"interval_seconds": 86400 / (MAX_SAMPLE_BUCKETS + 1) / 2}, "choose a longer interval"),
        ({"limit": -1}, "greater than or equal to 0"),
        ({"by": "zone"}, "'revision' or 'cohort'"),
    ],
)
def test_a_sample_query_that_cannot_be_answered_is_refused_when_made(
    changes: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {"check": "web", "since": T0, "until": T0 + timedelta(days=1), **changes}
    with pytest.raises(ValidationError, match=message):
        SampleQuery.model_validate(fields)


def test_samples_say_when_the_limit_left_durations_out() -> None:
    full = Samples(group="v1", since=T0, until=T0, durations_seconds=(0.1, 0.2), failed=1, total=3)
    cut = full.model_copy(update={"durations_seconds": (0.1,)})
    assert (full.passed, full.truncated, cut.truncated) == (2, False, True)


@pytest.mark.parametrize(
    "observation",
    [HttpObservation(), HttpObservation(status_code=200), DnsObservation(), SocketObservation()],
)
def test_a_record_keeps_the_kind_of_every_observation_even_when_all_else_is_default(
    observation: HttpObservation | DnsObservation | SocketObservation,
) -> None:
    result = Result(
        check="web",
        kind="journey",
        zone="a",
        started_at=T0,
        duration_seconds=0.1,
        status=Status.ok,
        observation=observation,
    )
    with_step = result.model_copy(
        update={
            "steps": [StepResult(name="s", status=Status.ok, duration_seconds=0.1, observation=observation)]
        }
    )
    for written in (result, with_step):
        assert Result.model_validate_json(record_json(written)) == written
