"""What a new user types wrong gets a clear message and its documented exit code, never a traceback.

Exit codes: 2 usage or config error, 3 internal error, 4 the store's server cannot be reached.
"""

from __future__ import annotations

import json
import os
from importlib.metadata import version
from pathlib import Path

import pytest

from cli_runner import livesite
from prom_plugin import free_port

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def config(tmp_path: Path, site: str) -> Path:
    path = tmp_path / "checks.yaml"
    path.write_text(
        f"""
zones: [{{name: zone-a, base_url: "{site}"}}]
checks:
  - name: health
    url: /health
    headers: {{X-Token: "${{CHECK_ONLY_SECRET}}"}}
    assert: [status == 200]
"""
    )
    return path


def env_with(**extra: str) -> dict[str, str]:
    return {**os.environ, "CHECK_ONLY_SECRET": "s", **extra}


def assert_usage_error(done: object, *needles: str, code: int = 2) -> None:
    import subprocess

    assert isinstance(done, subprocess.CompletedProcess)
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("store", "needle"),
    [
        ("mysql://u:pw@db/x", "unknown store URL scheme in 'mysql'"),
        ("garbage", "unknown store URL scheme in 'garbage'"),
        ("sqlite://", "cannot read the SQLite path"),
        ("postgresql://u@127.0.0.1:abc/db", "the port in store URL postgresql://u@127.0.0.1:abc/db"),
        ("postgresql://u@127.0.0.1:99999/db", "is not a number from 1 to 65535"),
    ],
)
def test_a_store_url_that_names_no_store_is_a_usage_error(config: Path, store: str, needle: str) -> None:
    for command in (["check", str(config)], ["history", "health"]):
        done = livesite(*command, "--store", store, env=env_with())
        assert_usage_error(done, needle, "hint:")


def test_a_sqlite_path_that_cannot_be_created_is_a_usage_error(config: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    unwritable = tmp_path / "a-file" / "results.db"  # its folder is a file: even root cannot make it
    done = livesite("check", str(config), "--store", f"sqlite:///{unwritable}", env=env_with())
    assert_usage_error(done, f"cannot create the SQLite store {unwritable}", "is not a folder")
    read_only = livesite(
        "check", str(config), "--store", "sqlite:////proc/livesite-results.db", env=env_with()
    )
    assert_usage_error(read_only, "/proc/livesite-results.db")


def test_an_unreachable_postgresql_exits_4_without_its_password(config: Path) -> None:
    url = f"postgresql://probe:s3cretpw@127.0.0.1:{free_port()}/results?password=s3cretpw2"
    for command in (["check", str(config)], ["history", "health"], ["monitor", str(config)]):
        done = livesite(*command, "--store", url, env=env_with())
        assert_usage_error(done, "cannot be reached", "postgresql://probe:****@127.0.0.1", code=4)
        assert "s3cretpw" not in done.stderr + done.stdout


def test_a_refused_postgresql_login_is_a_usage_error_without_the_password(
    config: Path, fresh_postgres_url: str
) -> None:
    url = fresh_postgres_url.replace("postgres@", "postgres:s3cretpw@").rsplit("/", 1)[0] + "/no_such_db"
    done = livesite("check", str(config), "--store", url, env=env_with())
    assert_usage_error(done, "refused the login", "no_such_db", "postgres:****@")
    assert "s3cretpw" not in done.stderr


def test_history_never_prints_the_password_of_its_store(fresh_postgres_url: str) -> None:
    url = fresh_postgres_url.replace("postgres@", "postgres:s3cretpw@")  # trust auth ignores it
    done = livesite("history", "nothing-yet", "--store", url)
    assert done.returncode == 1, done.stderr
    assert "no results for check 'nothing-yet' in postgresql://postgres:****@" in done.stderr
    assert "s3cretpw" not in done.stderr + done.stdout


def test_a_junit_path_that_cannot_be_written_is_a_usage_error_before_anything_runs(config: Path) -> None:
    done = livesite("check", str(config), "--junit", "/nonexistent/r.xml", env=env_with())
    assert_usage_error(done, "cannot write the JUnit report /nonexistent/r.xml")
    assert done.stdout == ""  # nothing ran


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "127.0.0.1:http", "no-port-at-all", "[::1]:-1"])
def test_a_listen_address_that_cannot_be_bound_is_a_usage_error(config: Path, listen: str) -> None:
    done = livesite("monitor", str(config), "--listen", listen, env=env_with())
    assert_usage_error(done, f"cannot read listen address {listen!r}", "0 to 65535")


def test_a_listen_address_in_use_is_a_usage_error(config: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = livesite(
            "monitor",
            str(config),
            "--listen",
            f"127.0.0.1:{port}",
            "--store",
            f"sqlite:///{tmp_path / 'r.db'}",
            env=env_with(),
        )
    assert_usage_error(done, f"cannot listen on 127.0.0.1:{port}")


def test_version_is_an_option_and_a_command() -> None:
    for args in (["--version"], ["version"]):
        done = livesite(*args)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"livesite {version('livesite')}"


def test_the_cli_imports_nothing_private_from_typer() -> None:
    for path in (ROOT / "src" / "livesite" / "cli").rglob("*.py"):
        assert "typer._" not in path.read_text(), path


def test_history_reads_only_the_store_of_a_config_and_needs_none_of_its_variables(
    config: Path, tmp_path: Path
) -> None:
    text = config.read_text() + "store: {url: 'sqlite:///${RESULTS_NAME:-gate}.db'}\n"
    config.write_text(text)
    stored = livesite("check", str(config), "--store", f"sqlite:///{tmp_path / 'gate.db'}", env=env_with())
    assert stored.returncode == 0, stored.stderr
    without = {k: v for k, v in os.environ.items() if k != "CHECK_ONLY_SECRET"}
    # From another folder: the config's store.url is relative to the config's folder.
    shown = livesite("history", "health", "--config", str(config), "--json", cwd="/", env=without)
    assert shown.returncode == 0, shown.stderr
    assert [r["status"] for r in json.loads(shown.stdout)] == ["ok"]
    # ...but the variables the store URL itself names are still required.
    config.write_text(text.replace("${RESULTS_NAME:-gate}", "${RESULTS_NAME}"))
    missing = livesite("history", "health", "--config", str(config), env=without)
    assert_usage_error(missing, "environment variable RESULTS_NAME is not set", f"{config}:")


def test_a_relative_store_option_is_relative_to_the_current_directory_for_every_command(
    config: Path, tmp_path: Path
) -> None:
    """The docs' example: `check ... --store sqlite:///gate.db`, then `history ... --store sqlite:///gate.db`."""
    work = tmp_path / "work"
    work.mkdir()
    assert (
        livesite("check", str(config), "--store", "sqlite:///gate.db", cwd=work, env=env_with()).returncode
        == 0
    )
    assert (work / "gate.db").exists() and not (config.parent / "gate.db").exists()
    shown = livesite("history", "health", "--store", "sqlite:///gate.db", "--json", cwd=work)
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)) == 1
