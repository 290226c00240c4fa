"""`livesite check` and `livesite validate` as a deploy pipeline sees them: exit codes, JSON, JUnit."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from cli_runner import livesite


@pytest.fixture
def config(tmp_path: Path, site: str) -> Path:
    path = tmp_path / "checks.yaml"
    path.write_text(
        f"""
zones:
  - {{name: zone-a, base_url: "{site}"}}
  - {{name: zone-b, base_url: "{site}"}}
checks:
  - name: health
    url: /health
    assert: [status == 200, json.ok == true]
  - name: missing-page
    url: /missing
    zones: [zone-b]
    assert: [status == 200]
"""
    )
    return path


def test_check_exits_0_when_every_check_passes(config: Path) -> None:
    done = livesite("check", str(config), "--check", "health")
    assert done.returncode == 0, done.stderr
    assert "2 runs: 2 ok" in done.stdout


def test_check_exits_1_and_says_why_when_a_check_fails(config: Path) -> None:
    done = livesite("check", str(config))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "✗ missing-page @ zone-b: failed" in next(line for line in lines if "missing-page" in line)
    assert any(line.startswith("✓ health @ zone-a: ok") and line.endswith(" 200 v7") for line in lines)
    assert "expected status == 200, observed 404" in done.stdout


def test_check_json_is_a_list_of_results_a_pipeline_can_read(config: Path) -> None:
    done = livesite("check", str(config), "--json", "--zone", "zone-b")
    assert done.returncode == 1
    results = {r["check"]: r for r in json.loads(done.stdout)}
    assert results["health"]["status"] == "ok"
    assert results["health"]["revision"] == "v7"
    failed = results["missing-page"]
    assert failed["status"] == "failed"
    assert failed["assertions"] == [
        {"expr": "status == 200", "observed": "404", "passed": False, "budget": False}
    ]


def test_check_writes_junit_with_one_testcase_per_check_and_zone(config: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    livesite("check", str(config), "--junit", str(report))
    suite = ET.parse(report).getroot()
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    failure = suite.find("testcase[@name='missing-page']/failure")
    assert failure is not None and "observed 404" in (failure.get("message") or "")


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("checks:\n  - {name: nowhere, url: 'http://127.0.0.1:1/'}\n")
    done = livesite("check", str(path), "--dry-run")
    assert done.returncode == 0
    assert "nowhere" in done.stdout and "plan: 1 runs" in done.stdout


def test_a_config_error_exits_2_with_file_line_and_hint_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("checks:\n  - name: home\n    url: http://x/\n    timout: 5s\n")
    for command in ("check", "validate"):
        done = livesite(command, str(path))
        assert done.returncode == 2
        assert f"{path}:4:5: unknown key 'timout'" in done.stderr
        assert "did you mean 'timeout'?" in done.stderr
        assert "Traceback" not in done.stderr


def test_an_unknown_check_name_is_a_usage_error(config: Path) -> None:
    done = livesite("check", str(config), "--check", "nope")
    assert done.returncode == 2
    assert "no check named 'nope'" in done.stderr


def test_validate_exits_0_and_counts_runs(config: Path) -> None:
    done = livesite("validate", str(config))
    assert done.returncode == 0
    assert "2 checks, 2 zones, 3 runs per round" in done.stdout


def test_check_can_keep_its_results_for_history(config: Path, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'gate.db'}"
    assert livesite("check", str(config), "--store", store).returncode == 1
    assert livesite("check", str(config), "--check", "health", "--store", store).returncode == 0
    shown = livesite("history", "health", "--store", store, "--json")
    assert shown.returncode == 0, shown.stderr
    assert [r["status"] for r in json.loads(shown.stdout)] == ["ok"] * 4


def test_history_of_a_store_that_does_not_exist_says_so_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    done = livesite("history", "health", "--store", f"sqlite:///{missing}")
    assert done.returncode == 2
    assert f"no results store at {missing}" in done.stderr and "livesite monitor" in done.stderr
    assert not missing.exists()


def test_check_with_a_store_that_is_not_a_database_is_a_usage_error_before_anything_runs(
    config: Path, tmp_path: Path
) -> None:
    (tmp_path / "not-a-db").write_text("this is not sqlite")
    done = livesite("check", str(config), "--store", f"sqlite:///{tmp_path / 'not-a-db'}")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "is not a SQLite database" in done.stderr


def test_check_and_history_work_the_same_on_postgresql(config: Path, fresh_postgres_url: str) -> None:
    assert livesite("check", str(config), "--store", fresh_postgres_url).returncode == 1
    shown = livesite("history", "missing-page", "--store", fresh_postgres_url, "--json")
    assert shown.returncode == 0, shown.stderr
    [stored] = json.loads(shown.stdout)
    assert stored["status"] == "failed" and stored["zone"] == "zone-b"
    assert stored["assertions"][0]["observed"] == "404"
