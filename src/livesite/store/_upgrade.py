"""Schema 3 reads Results written by schema 1 and 2: the records are rewritten once, by the migration.

Schema 2 and before stored HTTP facts at the top of a Result (``status_code``, ``response_bytes``,
``redirects``, ``cert_not_after``), a step's ``status_code`` and ``url``, and an artifact's ``path``
or inline ``text``. Schema 3 keeps them in a per-kind ``observation`` and artifacts by URI. Both
stores run every stored record through :func:`upgrade_rows`, which reads it with the same
``Result.model_validate_json`` a reader uses: a record this cannot read stops the migration (the
transaction rolls back, the store stays at schema 2) instead of leaving a row no reader can open.

The mapping, value by value:

- ``status_code``, ``response_bytes``, ``redirects`` → ``observation = {kind: "http", status_code,
  body_bytes, redirects, content_length: -1}``. The Content-Length header was never stored, hence -1
  ("absent"); a Result that got no answer (no status code) gets status 0 and content length 0,
  which is what the http kind records now for no answer, as blackbox_exporter exports it. Every
  ``http`` Result gets an observation, as the http kind always writes one now.
- ``cert_not_after`` → ``observation.tls.earliest_expiry`` and ``leaf_expiry`` (it was the leaf's,
  and the only one known); on a Result that is not HTTP (the tls kind) the observation is a socket's.
- a step's ``status_code`` → its own http observation; its ``url`` → its ``target``.
- an artifact's ``path`` → ``file://`` URI (a relative path stays relative: ``file:`` and the
  path, percent-encoded); its ``text`` → ``data:text/plain;charset=utf-8,`` and the text,
  percent-encoded. An artifact that had both becomes two artifacts of the same name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import quote

from pydantic import ValidationError

from livesite.errors import StoreError
from livesite.results import Result
from livesite.store._rows import record_json

# (seq, started_at, record) in; (record, user_name, seq) and (seq, started_at, tag, value) out.
StoredRow = tuple[int, float, str]
Rewrite = tuple[str, str, int]
TagRow = tuple[int, float, str, str]

_OLD_HTTP = ("status_code", "response_bytes", "redirects")
_OLD_KEYS = (*_OLD_HTTP, "cert_not_after")


def upgrade_rows(rows: Sequence[StoredRow]) -> tuple[list[Rewrite], list[TagRow]]:
    """The rewrites (only rows whose record or user column changes) and the tag rows of ``rows``.

    Raises:
        StoreError: a record is not JSON or does not read as a Result even after upgrading; the
            message names its seq and id.
    """
    rewrites: list[Rewrite] = []
    tags: list[TagRow] = []
    for seq, started_at, record in rows:
        result = upgrade_record(record, seq)
        upgraded = record_json(result)
        if upgraded != record or result.user:
            rewrites.append((upgraded, result.user, seq))
        tags.extend((seq, started_at, tag, value) for tag, value in result.tags.items())
    return rewrites, tags


def upgrade_record(record: str, seq: int = 0) -> Result:
    """The Result a schema 1, 2 or 3 ``record`` holds, in the schema 3 shape.

    Raises:
        StoreError: the record cannot be read as a Result.
    """
    shown: object = None
    try:
        data: object = json.loads(record)
        if isinstance(data, dict):
            shown = data.get("id")
            _upgrade_result(data)
        return Result.model_validate_json(json.dumps(data, ensure_ascii=False))
    except (ValueError, ValidationError) as exc:  # a JSONDecodeError is a ValueError
        raise StoreError(
            f"cannot upgrade stored result seq {seq} (id {shown!r}) to schema 3: {exc}",
            hint="the store was left as it was; report this with the row "
            "(SELECT record FROM results WHERE seq = ...) so it can be read",
        ) from exc


def _upgrade_result(data: dict[str, object]) -> None:
    old = {key: data.pop(key) for key in _OLD_KEYS if key in data}
    if "observation" not in data:
        observation = _observation(data.get("kind"), old)
        if observation is not None:
            data["observation"] = observation
    _upgrade_artifacts(data)
    steps = data.get("steps")
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict):
            _upgrade_step(step)
            _upgrade_artifacts(step)


def _observation(kind: object, old: dict[str, object]) -> dict[str, object] | None:
    expiry = old.get("cert_not_after")
    tls = None if expiry is None else {"earliest_expiry": expiry, "leaf_expiry": expiry}
    status_code = old.get("status_code")
    if kind == "http" or any(old.get(key) not in (None, []) for key in _OLD_HTTP):
        answered = status_code is not None
        observation: dict[str, object] = {
            "kind": "http",
            "status_code": status_code if answered else 0,
            "content_length": -1 if answered else 0,
            "body_bytes": old.get("response_bytes") or 0,
            "redirects": old.get("redirects") or [],
        }
        if tls is not None:
            observation["tls"] = tls
        return observation
    if tls is not None:
        return {"kind": "socket", "tls": tls}
    return None


def _upgrade_step(step: dict[str, object]) -> None:
    status_code = step.pop("status_code", None)
    url = step.pop("url", None)
    if status_code is not None and "observation" not in step:
        step["observation"] = {"kind": "http", "status_code": status_code, "content_length": -1}
    if url is not None and not step.get("target"):
        step["target"] = url


def _upgrade_artifacts(holder: dict[str, object]) -> None:
    artifacts = holder.get("artifacts")
    if not isinstance(artifacts, list):
        return
    upgraded: list[object] = []
    for artifact in artifacts:
        if not isinstance(artifact, dict) or "uri" in artifact:
            upgraded.append(artifact)
            continue
        path, text = artifact.pop("path", None), artifact.pop("text", None)
        uris = []
        if isinstance(path, str):
            uris.append(_file_uri(path))
        if isinstance(text, str):
            uris.append("data:text/plain;charset=utf-8," + quote(text, safe=""))
        upgraded.extend({**artifact, "uri": uri} for uri in uris or [""])
    holder["artifacts"] = upgraded


def _file_uri(path: str) -> str:
    pure = PurePosixPath(path)
    return pure.as_uri() if pure.is_absolute() else "file:" + quote(path)
