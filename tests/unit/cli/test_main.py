"""`livesite.cli.main.main` maps every exception to its documented exit code.

A bug cannot be provoked in a real process on cue, so this test replaces the config loader with one
that raises; everything else is the real CLI, called in-process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livesite.cli import main as cli


def test_an_unexpected_exception_exits_3_with_its_traceback_never_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1 means "a check failed" to a pipeline: a bug must never look like that."""

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug [/] in the loader")

    monkeypatch.setattr(cli, "load", broken)
    assert cli.main(["validate", str(tmp_path / "c.yaml")]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error: RuntimeError: a bug [/] in the loader" in err


def test_a_usage_error_of_the_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--no-such-option"]) == 2
    assert "No such option" in capsys.readouterr().err
