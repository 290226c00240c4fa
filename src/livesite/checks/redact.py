"""Secrets leave no probe: every string of a Result is redacted when the frame builds it.

One rule, by value and before anything is cut: every secret the config knows for the check
(credentials, ``*_file`` contents, ``${VAR}`` values in headers, query, body or ``send``, the run's
identity headers and cookies) becomes ``****`` wherever it appears — in its base64 form too for
basic auth — and a string cut to its display length never ends in a prefix of one. What is left of
a secret that a kind cut *before* the frame saw it (tcp quotes the first bytes it read) is masked
too, wherever it stands, from its first ``PARTIAL`` characters on. Besides known values, anything
*shaped* like a secret is masked by name: query parameters and JSON fields named like tokens, keys
or passwords, and credential headers echoed back by a server. Observed values of secret-bearing
subjects (``header.authorization``, cookies, ``json.token``) are masked whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from livesite.assertions import Assertion, Subject
from livesite.results import AssertionOutcome

MASK = "****"
SHOWN = 120  # characters of an observed value a Result keeps
# A secret's first characters, anywhere in a text, are taken for a cut secret. Fewer would mask
# ordinary words that happen to begin like a secret; at the end of a cut, 3 are enough to mask.
PARTIAL = 6
_SECRET_WORDS = frozenset(
    {
        "token", "secret", "password", "passwd", "pwd", "passphrase", "key", "apikey", "signature",
        "sig", "session", "sessionid", "sid", "auth", "authorization", "credential", "credentials",
        "cookie", "jwt", "otp", "totp", "csrf", "xsrf",
    }
)  # fmt: skip
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# name=value in a query string or a form body (after ?, & or ;)
_PARAM = re.compile(r"([?&;])([^=&;\s#\"'<>]+)=([^&;\s#\"'<>]*)")
# "name": "value" in JSON text
_FIELD = re.compile(r"\"([^\"\\]{1,64})\"(\s*:\s*)\"(?:[^\"\\]|\\.)*\"")
# a credential header as a server echoes it back
_HEADER = re.compile(
    r"((?:proxy-)?authorization|(?:set-)?cookie|x-[\w-]*(?:token|key|secret|auth|session)[\w-]*)"
    r"(\s*[:=]\s*\"?)(?:(basic|bearer|digest|token)\s+)?[^\r\n\"]*",
    re.I,
)


def secret_name(name: str) -> bool:
    """A field, parameter or header named like a credential: api_key, accessToken, X-Session-Id."""
    return any(word.lower() in _SECRET_WORDS for word in _WORDS.findall(name))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_SECRET_SUBJECT_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def _header(m: re.Match[str]) -> str:
    scheme = f"{m.group(3)} " if m.group(3) else ""
    return f"{m.group(1)}{m.group(2)}{scheme}{MASK}"


def _param(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}={MASK}" if secret_name(m.group(2)) else m.group(0)


def _field(m: re.Match[str]) -> str:
    return f'"{m.group(1)}"{m.group(2)}"{MASK}"' if secret_name(m.group(1)) else m.group(0)


_URLS_KEPT = 64  # redacted URLs remembered per redactor (a check and identity): its target and redirects
_CREDENTIAL_WORDS = ("auth", "cookie", "token", "key", "secret", "session")


def _may_name_a_credential(text: str) -> bool:
    """A cheap test before the header regex: could ``text`` hold a credential header at all? (Every
    name ``_HEADER`` matches holds one of these words.)"""
    lowered = text.lower()
    return any(word in lowered for word in _CREDENTIAL_WORDS)


@dataclass(frozen=True, slots=True)
class Redactor:
    secrets: tuple[str, ...] = ()  # longest first, so a secret containing another is masked whole
    _urls: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_check(cls, spec: object, extra: Iterable[str] = ()) -> Redactor:
        from livesite.config.models import CheckBase

        found = [*(spec.secrets() if isinstance(spec, CheckBase) else []), *extra]
        return cls.of(found)

    @classmethod
    def of(cls, secrets: Iterable[str]) -> Redactor:
        # Under 4 characters a "secret" would mask ordinary words; such secrets are weak anyway.
        kept = {s for s in secrets if len(s) >= 4}
        return cls(tuple(sorted(kept, key=len, reverse=True)))

    def text(self, text: str, limit: int | None = None) -> str:
        """``text`` with every secret masked, on one line, at most ``limit`` characters (plus "…")."""
        text = self._known(text)
        if "=" in text:
            text = _PARAM.sub(_param, text)
        if ":" in text or "=" in text:
            if _may_name_a_credential(text):
                text = _HEADER.sub(_header, text)
            if '"' in text:
                text = _FIELD.sub(_field, text)
        if limit is not None:
            if not text.isprintable():  # most observed values are: skip the regex for them
                text = _CONTROL.sub(" ", text)
            if len(text) > limit:
                text = self._no_partial_secret(text[:limit]) + "…"
        return text

    def _known(self, text: str) -> str:
        """``text`` without the secrets this redactor knows, whole or by their first characters."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        # Only once every whole secret is gone: a secret sharing its first characters with another
        # would otherwise lose them to the other's prefix and keep its own tail.
        for secret in self.secrets:
            if len(secret) > PARTIAL and secret[:PARTIAL] in text:
                text = _without_prefixes(text, secret)
        return text

    def _no_partial_secret(self, cut: str) -> str:
        """A cut that ends inside a secret would show its first characters: mask that tail."""
        for secret in self.secrets:
            for k in range(min(len(secret) - 1, len(cut)), 2, -1):
                if cut.endswith(secret[:k]):
                    return cut[:-k] + MASK
        return cut

    def url(self, url: str) -> str:
        """A URL as a Result may show it: no userinfo, no secret-named query values, no known secret."""
        shown = self._urls.get(url)
        if shown is not None:
            return shown  # a check probes the same URL run after run
        if "@" in url:
            scheme, sep, rest = url.partition("://")
            authority, slash, path = rest.partition("/")
            if sep and "@" in authority:
                url_shown = f"{scheme}://{MASK}@{authority.rsplit('@', 1)[1]}{slash}{path}"
            else:
                url_shown = url
        else:
            url_shown = url
        url_shown = self.text(url_shown)
        if len(self._urls) < _URLS_KEPT:
            self._urls[url] = url_shown
        return url_shown

    def outcomes(self, outcomes: list[AssertionOutcome], masked: Sequence[bool]) -> list[AssertionOutcome]:
        """``outcomes`` with observed values redacted and cut; ``masked`` (from :func:`masked_subjects`)
        says which are credentials, shown as ``****`` whole."""
        out = []
        for outcome, whole in zip(outcomes, masked, strict=True):
            observed = outcome.observed
            if observed is not None:
                observed = MASK if whole else self.text(observed, SHOWN)
            out.append(
                outcome if observed == outcome.observed else outcome.model_copy(update={"observed": observed})
            )
        return out


def _without_prefixes(text: str, secret: str) -> str:
    """``text`` with each run of ``secret``'s first characters (``PARTIAL`` or more) masked."""
    out: list[str] = []
    start = 0
    at = text.find(secret[:PARTIAL])
    while at != -1:
        end = at + PARTIAL
        while end < len(text) and end - at < len(secret) and text[end] == secret[end - at]:
            end += 1
        out += (text[start:at], MASK)
        start = end
        at = text.find(secret[:PARTIAL], end)
    return "".join(out) + text[start:]


def masked_subjects(rules: Sequence[Assertion]) -> tuple[bool, ...]:
    """For each rule: is its subject a credential, whose observed value is masked whole? (The frame
    asks once per check, not per run.)"""
    return tuple(_secret_subject(rule.subject) for rule in rules)


def _secret_subject(subject: Subject) -> bool:
    """Subjects whose value is a credential: showing it would leak it, whatever it is."""
    if subject.length:
        return False  # len(json.token) is a number
    if subject.name == "header":
        name = subject.arg or ""
        return name in _SECRET_SUBJECT_HEADERS or (name.startswith("x-") and secret_name(name))
    if subject.name == "json":
        return any(isinstance(k, str) and secret_name(k) for k in subject.path)
    return False
