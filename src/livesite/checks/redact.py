"""Secrets are removed when a Result is built, so nothing downstream (store, page, alert) can leak them."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from livesite.config.models import CheckSpec, HttpCheck
from livesite.results import AssertionOutcome

MASK = "****"
_SECRET_PARAM = re.compile(r"(token|key|secret|password|passwd|signature|sig|auth|session)", re.I)
_SECRET_HEADER_SUBJECTS = (
    "header.authorization",
    "header.cookie",
    "header.set-cookie",
    "header.proxy-authorization",
)


@dataclass(frozen=True, slots=True)
class Redactor:
    secrets: tuple[str, ...] = ()

    @classmethod
    def for_check(cls, spec: CheckSpec) -> Redactor:
        found: list[str] = []
        if isinstance(spec, HttpCheck):
            if spec.auth is not None and spec.auth.basic is not None:
                basic = spec.auth.basic
                found.append(basic.password)
                # What goes on the wire is base64(user:password); a server that echoes headers back
                # (httpbin's /headers, a debug page) would otherwise put it in an observed value.
                found.append(base64.b64encode(f"{basic.username}:{basic.password}".encode()).decode())
            if spec.auth is not None and spec.auth.bearer is not None:
                found.append(spec.auth.bearer.token)
            for name, value in spec.headers.items():
                if name.lower() in ("authorization", "cookie", "x-api-key", "proxy-authorization"):
                    found.append(value)
        return cls(tuple(s for s in found if len(s) >= 4))

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def outcomes(self, outcomes: list[AssertionOutcome]) -> list[AssertionOutcome]:
        if not self.secrets and not any(o.expr.lower().startswith(_SECRET_HEADER_SUBJECTS) for o in outcomes):
            return outcomes
        out = []
        for o in outcomes:
            observed = o.observed
            if observed is not None and o.expr.lower().startswith(_SECRET_HEADER_SUBJECTS):
                observed = _mask_cookie_values(observed)
            if observed is not None:
                observed = self.text(observed)
            out.append(o if observed == o.observed else o.model_copy(update={"observed": observed}))
        return out


def _mask_cookie_values(value: str) -> str:
    if value.lower().startswith(("bearer ", "basic ")):
        return value.split(" ", 1)[0] + " " + MASK
    return re.sub(r"(^|[;,]\s*)([^=;,\s]+)=([^;,]*)", lambda m: f"{m.group(1)}{m.group(2)}={MASK}", value)
