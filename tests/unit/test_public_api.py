import livesite


def test_the_public_api_is_exactly_what_we_promise() -> None:
    assert sorted(livesite.__all__) == sorted(
        [
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
    )
    for name in livesite.__all__:
        assert hasattr(livesite, name)


def test_a_result_survives_a_json_round_trip_unchanged() -> None:
    from datetime import UTC, datetime

    result = livesite.Result(
        check="home",
        kind="http",
        zone="zone-a",
        started_at=datetime(2026, 11, 25, tzinfo=UTC),
        duration_seconds=0.12,
        status=livesite.Status.failed,
        failure=livesite.Failure(
            kind=livesite.FailureKind.assertion, message="expected status == 200, observed 500"
        ),
        assertions=[livesite.AssertionOutcome(expr="status == 200", observed="500", passed=False)],
        tags={"partner": "payments"},
    )
    assert livesite.Result.model_validate_json(result.model_dump_json()) == result
    assert result.reason() == "assertion: expected status == 200, observed 500"
