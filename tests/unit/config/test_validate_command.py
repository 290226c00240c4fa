"""``livesite validate`` on configs that used to end in a traceback (issue #7): exit 2, the loader's
message on stderr, no traceback. The messages themselves are pinned in test_config_errors.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
LIVESITE = [sys.executable, "-m", "livesite.cli.main"]


def test_validate_exits_2_with_file_line_and_no_traceback_for_what_used_to_crash(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    cases = {
        "bad/timestamp-tag.yaml": "bad/timestamp-tag.yaml:1:4: ",
        "bad/file-interpolation-binary.yaml": "bad/file-interpolation-binary.yaml:4:24: ",
        "bad/password-file-dev-zero.yaml": "bad/password-file-dev-zero.yaml:7:24: ",
        "bad/nul-character.yaml": "bad/nul-character.yaml:3:35: ",
        "bad/interval-zero.yaml": "bad/interval-zero.yaml:1:22: ",
        "/dev/zero": "/dev/zero: config file /dev/zero is a character device",
        str(fifo): f"{fifo}: config file {fifo} is a named pipe (FIFO)",
    }
    # All at once: each is a fresh interpreter, and they do not depend on one another.
    running = {
        path: subprocess.Popen(
            [*LIVESITE, "validate", path], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for path in cases
    }
    for path, proc in running.items():
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 2, (path, stderr)
        assert "Traceback" not in stderr, stderr
        assert f"error: {cases[path]}" in stderr, stderr
