"""Reading schema 1 and 2 records as schema 3 Results (store/_upgrade.py), without a database."""

from __future__ import annotations

import json

import pytest

from livesite.errors import StoreError
from livesite.results import Artifact, HttpObservation, SocketObservation, TlsInfo
from livesite.store._rows import record_json
from livesite.store._upgrade import upgrade_record, upgrade_rows
from livesite.testing.store_conformance import rich_result

_BASE = {
    "id": "r1",
    "check": "web",
    "kind": "http",
    "zone": "a",
    "started_at": "2024-05-01T10:00:00Z",
    "duration_seconds": 0.5,
    "status": "ok",
}


def _old(**fields: object) -> str:
    return json.dumps({**_BASE, **fields})


def test_old_http_fields_move_into_an_http_observation() -> None:
    result = upgrade_record(
        _old(
            status_code=301,
            response_bytes=12,
            redirects=["https://x/"],
            cert_not_after="2030-01-01T00:00:00Z",
        )
    )
    assert result.http is not None
    assert (result.http.status_code, result.http.body_bytes, result.http.redirects) == (
        301,
        12,
        ["https://x/"],
    )
    assert result.http.content_length == -1  # the header was never stored
    assert result.http.tls is not None and result.http.tls.earliest_expiry == result.http.tls.leaf_expiry
    assert result.http.tls.earliest_expiry is not None and result.http.tls.earliest_expiry.year == 2030


def test_an_http_result_without_an_answer_gets_status_0_as_blackbox_reports_it() -> None:
    for record in (_old(status="error"), _old(status="error", status_code=None, response_bytes=None)):
        assert upgrade_record(record).observation == HttpObservation(status_code=0, content_length=0)


def test_a_tls_result_keeps_its_expiry_in_a_socket_observation() -> None:
    result = upgrade_record(_old(kind="tls", cert_not_after="2030-01-01T00:00:00+00:00"))
    assert isinstance(result.observation, SocketObservation)
    assert result.observation.tls == TlsInfo(
        earliest_expiry=result.started_at.replace(year=2030, month=1, day=1, hour=0),
        leaf_expiry=result.started_at.replace(year=2030, month=1, day=1, hour=0),
    )


def test_a_result_with_nothing_http_about_it_gets_no_observation() -> None:
    record = _old(kind="dns", status_code=None, response_bytes=None, redirects=[], cert_not_after=None)
    assert upgrade_record(record).observation is None


def test_steps_keep_their_status_code_and_url() -> None:
    step = {"name": "s", "status": "ok", "duration_seconds": 0.1}
    result = upgrade_record(
        _old(
            kind="journey",
            steps=[
                {**step, "status_code": 204, "url": "https://x/s"},
                {**step, "status_code": None, "url": None},
            ],
        )
    )
    first, second = result.steps
    assert first.observation == HttpObservation(status_code=204, content_length=-1)
    assert first.target == "https://x/s"
    assert second.observation is None and second.target == ""


def test_artifacts_are_kept_by_uri() -> None:
    artifacts = [
        {"name": "a", "media_type": "image/png", "path": "/tmp/a b.png"},
        {"name": "b", "media_type": "text/plain", "text": "x = 1; ü"},
        {"name": "c", "media_type": "text/plain", "path": "rel/c.txt", "text": "both"},
    ]
    step = {"name": "s", "status": "ok", "duration_seconds": 0.1, "artifacts": artifacts[:1]}
    result = upgrade_record(_old(kind="journey", artifacts=artifacts, steps=[step]))
    assert result.artifacts == [
        Artifact(name="a", media_type="image/png", uri="file:///tmp/a%20b.png"),
        Artifact(
            name="b", media_type="text/plain", uri="data:text/plain;charset=utf-8,x%20%3D%201%3B%20%C3%BC"
        ),
        Artifact(name="c", media_type="text/plain", uri="file:rel/c.txt"),
        Artifact(name="c", media_type="text/plain", uri="data:text/plain;charset=utf-8,both"),
    ]
    assert result.steps[0].artifacts == result.artifacts[:1]


def test_a_schema_3_record_comes_back_unchanged() -> None:
    written = rich_result()
    record = record_json(written)
    assert upgrade_record(record) == written
    rewrites, tags = upgrade_rows([(7, 1.5, record)])
    # Only the user column needs writing: the record is already in the new shape.
    assert rewrites == [(record, "u-7", 7)]
    assert sorted(tags) == sorted((7, 1.5, tag, value) for tag, value in written.tags.items())


def test_a_record_that_is_not_a_result_names_its_row() -> None:
    with pytest.raises(StoreError, match=r"seq 42 \(id 'r1'\)") as caught:
        upgrade_record(_old(status="sideways"), seq=42)
    assert caught.value.hint
    with pytest.raises(StoreError, match="seq 43"):
        upgrade_record("{not json", seq=43)
