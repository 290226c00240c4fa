"""Reading the files a config names (itself, ``${file:...}``, ``*_file`` secrets) without trusting them.

A path in a config may name anything: ``/dev/zero`` (endless), ``/dev/urandom`` (endless and not
text), a FIFO (blocks until someone writes), a binary. So a file is read only if it is a regular
file, at most ``cap`` bytes of it, and only if it is UTF-8 text without NUL bytes. Anything else is a
:class:`ValueError` whose message says what the path is and what to do; callers turn it into a
``ConfigError`` at the position that named the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

CONFIG_MAX_BYTES = 8 * 1024 * 1024  # a 50,000-check config is about 7 MiB
SECRET_MAX_BYTES = 64 * 1024  # a password, a token, a PEM bundle of a few certificates
PEM_MAX_BYTES = 1024 * 1024  # ca_file, cert_file, key_file: a large CA bundle is about 250 kB


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


def check_regular(path: Path, cap: int, what: str) -> None:
    """Raise ValueError unless ``path`` is an existing regular file of at most ``cap`` bytes.

    For files that another library opens by name (TLS certificates): it never opens the file, so
    a FIFO cannot block it.
    """
    try:
        info = os.stat(path)
    except OSError as e:
        raise ValueError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{what} {path} is {_kind_of(info.st_mode)}; livesite reads only regular files")
    if info.st_size > cap:
        raise ValueError(f"{what} {path} is larger than {_size(cap)}")


def read_bytes(path: Path, cap: int, what: str) -> bytes:
    """At most ``cap`` bytes of a regular file.

    Raises:
        ValueError: the file is missing, unreadable, not a regular file or larger than ``cap``.
    """
    check_regular(path, cap, what)  # a clear message for the common cases, before opening anything
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, opening it does not wait for
        # a writer; fstat below then refuses it. On a regular file the flag changes nothing.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ValueError(f"cannot read {what} {path}: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"{what} {path} is {_kind_of(mode)}; livesite reads only regular files")
        chunks: list[bytes] = []
        left = cap + 1  # one byte more than allowed tells "too large" from "exactly cap"
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise ValueError(f"cannot read {what} {path}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > cap:
        raise ValueError(f"{what} {path} is larger than {_size(cap)}")
    return data


def line_col(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset`` of UTF-8 ``data``."""
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def decode(data: bytes, path: Path, what: str) -> str:
    """UTF-8 text (a leading byte order mark dropped) without NUL bytes.

    Raises:
        ValueError: the bytes are not UTF-8 or hold a NUL: a binary file, most likely.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = line_col(data, e.start)
        raise ValueError(
            f"{what} {path} is not UTF-8 text: byte 0x{data[e.start]:02x} at line {line}, column {col}"
        ) from None
    if "\0" in text:
        line, col = line_col(data, data.index(b"\0"))
        raise ValueError(f"{what} {path} holds a NUL byte at line {line}, column {col}: a binary file?")
    return text.removeprefix("\ufeff")


def read_secret(path: Path, what: str = "secret file") -> str:
    """The content of a secret file, stripped of surrounding white space (a trailing newline)."""
    return decode(read_bytes(path, SECRET_MAX_BYTES, what), path, what).strip()
