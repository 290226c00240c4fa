"""Errors that mean "livesite cannot do what you asked".

A failing check is never an exception: it is a :class:`~livesite.results.Result` with a
:class:`~livesite.results.Failure`. Exceptions are for the tool itself, and each class carries
the exit code the CLI returns for it::

    LivesiteError (3)            something livesite could not do; the message says what and why
    ├── ConfigError (2)          a config file is wrong; carries file, line, col and a hint
    │   └── ConfigErrors (2)     several ConfigErrors found in one pass, reported together
    ├── UsageError (2)           the command line asked for something that does not exist
    │   └── NotFound (2)         a check (or other thing) named in a request does not exist; HTTP 404
    ├── StoreError (3)           the results store cannot be opened or written
    │   ├── NoStoreError (2)     a reader was pointed at a store that does not exist
    │   ├── StoreURLError (2)    the store URL names nothing livesite can use (scheme, port, path)
    │   └── StoreUnavailable (4) the store's server cannot be reached now; the same command may work later
    └── DemoError (3)            the demo production cannot be started, stopped or read

Exit codes, as ``livesite`` documents them (README, docs/cli.md): 0 ok, 1 a check or verdict failed,
2 usage or config error, 3 internal error, 4 store unavailable, 130 interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LivesiteError(Exception):
    """Root of every livesite exception. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 3

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class UsageError(LivesiteError):
    """The command line names a check, zone or file that does not exist."""

    exit_code = 2


class NotFound(UsageError):
    """A request names a check (or another thing) that does not exist; the web API answers 404."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where in a config file something was written (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class ConfigError(LivesiteError):
    """A config file says something livesite cannot use.

    Printed as ``file:line:col: message (hint: ...)`` so editors can jump to it.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line
        self.col = col

    @classmethod
    def at(cls, position: Position | None, message: str, hint: str | None = None) -> ConfigError:
        if position is None:
            return cls(message, hint=hint)
        return cls(message, file=position.file, line=position.line, col=position.col, hint=hint)

    @property
    def where(self) -> str:
        if self.file is None:
            return "<config>"
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.col or 1}"

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class ConfigErrors(ConfigError):
    """Several config errors at once, so a user fixes them in one round trip."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.message, file=first.file, line=first.line, col=first.col, hint=first.hint)
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class StoreError(LivesiteError):
    """The results store cannot be opened, migrated or written."""


class NoStoreError(StoreError):
    """A reader was pointed at a store that does not exist: the user's path, not a fault of ours."""

    exit_code = 2


class StoreURLError(StoreError):
    """The store URL cannot name a store: an unknown scheme, a malformed port, a path livesite cannot
    create or write, or a file that is not a results store. The user's input, so a usage error."""

    exit_code = 2


class StoreUnavailable(StoreError):
    """The store's server did not answer (refused, unknown host, timed out, starting up).

    Its own exit code lets a pipeline tell "retry later" from "fix the command": nothing is wrong with
    the command line, the store is just not there right now.
    """

    exit_code = 4


class DemoError(LivesiteError):
    """The demo production cannot be started, stopped or inspected."""
