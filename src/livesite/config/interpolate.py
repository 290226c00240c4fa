"""``${VAR}``, ``${VAR:-default}``, ``${file:path}`` and ``$$`` in config values.

Values are filled in after YAML has read the text, so what is filled in is always text, and a
missing variable or an unreadable file is reported at the value that names it.

References with a run-time prefix (``${steps.login.token}``, ``${user.password}``, ``${run.nonce}``)
are left as they are: a journey fills them in while it runs (``livesite.checks.variables``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from livesite.config.files import SECRET_MAX_BYTES, read_secret
from livesite.errors import ConfigError, Position

_VAR_RE = re.compile(r"\$\$|\$\{([^}]*)\}")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RUNTIME_PREFIXES = ("steps.", "user.", "run.")


def interpolate(
    text: str,
    env: Mapping[str, str],
    where: Position | None = None,
    found: list[str] | None = None,
    *,
    files: dict[Path, str] | None = None,
) -> str:
    """Fill ``${VAR}``, ``${VAR:-default}`` and ``${file:path}``; ``$$`` is a literal ``$``.

    Every value filled in is appended to ``found`` when given. A ``${file:path}`` names a regular
    UTF-8 file of at most 64 KiB, relative to the config file; ``files`` caches what was read.

    Raises:
        ConfigError: a variable is not set and has no default, or a file cannot be read.
    """

    def one(m: re.Match[str]) -> str:
        value = _one(m)
        if found is not None and m.group(0) != "$$" and value != m.group(0):
            found.append(value)
        return value

    def _one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        expr = m.group(1)
        if expr.startswith(RUNTIME_PREFIXES):
            return m.group(0)
        if expr.startswith("file:"):
            return _file(expr[5:])
        name, sep, default = expr.partition(":-")
        if not _NAME_RE.match(name):
            raise ConfigError.at(
                where, f"bad variable reference ${{{expr}}}", hint="write ${NAME} or ${NAME:-default}"
            )
        if name in env and env[name] != "":
            return env[name]
        if sep:
            return default
        raise ConfigError.at(
            where,
            f"environment variable {name} is not set",
            hint=f"export {name}=... or write ${{{name}:-default}}",
        )

    def _file(name: str) -> str:
        try:
            target = Path(name).expanduser()
        except RuntimeError:  # ~user that does not exist
            target = Path(name)
        if not target.is_absolute() and where is not None:
            target = Path(where.file).parent / target  # relative to the config, as *_file keys are
        if files is not None and target in files:
            return files[target]
        try:
            value = read_secret(target, "secret file")
        except ValueError as e:
            raise ConfigError.at(
                where,
                str(e),
                hint=f"${{file:...}} reads a UTF-8 text file of at most {SECRET_MAX_BYTES // 1024} KiB",
            ) from None
        if files is not None:
            files[target] = value
        return value

    return _VAR_RE.sub(one, text)
