"""URLs as the crawler compares them: absolute, normalised, without their fragment, and in or out of scope.

Two spellings of one resource must be one key, or the same page is fetched twice: the scheme and host
are lower-cased, a default port dropped, an empty path is ``/`` and dot segments are resolved. The
query is kept as written (servers may treat ``?a=1&b=2`` and ``?b=2&a=1`` differently).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_NEEDS_CLEANING = re.compile(r"^[\x00\x0b\x0c ]|[\t\n\r]|[\x00\x0b\x0c ]$")
# What a browser percent-encodes before sending a URL: controls, space, non-ASCII, and "<>\^`{|}.
_UNSAFE = re.compile(r'[\x00-\x20\x7f-\U0010ffff"<>\\^`{|}]')


def _encoded(m: re.Match[str]) -> str:
    return quote(m.group(), safe="", errors="replace")


@dataclass(frozen=True, slots=True)
class Link:
    """Where a link points: its normalised URL without the fragment, and the fragment (None: none)."""

    url: str
    fragment: str | None

    @property
    def shown(self) -> str:
        return self.url if self.fragment is None else f"{self.url}#{self.fragment}"


def normalise(url: str) -> str | None:
    """``url`` as the crawler keys it, without its fragment; None when it is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None  # a bad port or an unbalanced IPv6 bracket: a broken link, not a crash
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path or "/"
    if "/." in path:
        path = urlsplit(urljoin(f"{scheme}://x", path)).path or "/"  # resolve . and .. segments
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a normalised URL."""
    end = url.find("/", url.find("//") + 2)
    return url if end < 0 else url[:end]


def resolve(base: str, href: str) -> Link | None:
    """The link ``href`` found on a page whose base URL is ``base`` (normalised); None when it is not
    an http(s) link (``mailto:``, ``javascript:``, ``data:``...) or cannot be read as a URL."""
    if _NEEDS_CLEANING.search(href):
        # As the URL standard says: tabs and newlines inside are dropped, spaces around are trimmed.
        href = href.translate(_TAB_OR_NEWLINE).strip(" \x00\x0b\x0c")
    if not href:
        return Link(base, None)  # href="" is the page itself
    fragment: str | None = None
    hash_at = href.find("#")
    if hash_at >= 0:
        href, fragment = href[:hash_at], href[hash_at + 1 :]
        if not href:
            return Link(base, fragment)
    if href[0] == "/" and not href.startswith("//") and "/." not in href and "\\" not in href:
        url: str | None = origin(base) + href  # the common case, without urljoin's cost
    elif _SCHEME.match(href) and not href[:5].lower().startswith(("http:", "https")):
        return None
    else:
        try:
            url = normalise(urljoin(base, href))
        except ValueError:
            return None
    if url is None:
        return None
    if _UNSAFE.search(url):
        url = _UNSAFE.sub(_encoded, url)
    return Link(url, fragment)


def fragment_names(fragment: str) -> tuple[str, ...]:
    """The ids a fragment may name: as written and percent-decoded (as the HTML standard looks for both)."""
    decoded = unquote(fragment)
    return (fragment,) if decoded == fragment else (fragment, decoded)


def top_of_page(fragment: str) -> bool:
    """``#`` and ``#top`` name the top of any page (HTML standard), with or without such an element."""
    return fragment == "" or fragment.lower() == "top"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which URLs are crawled (pages whose links are followed), and which are left alone entirely.

    A URL is crawled when it matches an ``include`` pattern, or, with none given, when it has the
    origin of a start URL. A URL matching an ``exclude`` pattern is neither crawled nor checked.
    Everything else is checked (does it answer?) but not crawled.
    """

    origins: frozenset[str]
    include: Sequence[re.Pattern[str]] = ()
    exclude: Sequence[re.Pattern[str]] = ()

    @classmethod
    def of(
        cls,
        start: Sequence[str],
        include: Sequence[re.Pattern[str]] = (),
        exclude: Sequence[re.Pattern[str]] = (),
    ) -> Scope:
        return cls(frozenset(origin(u) for u in start), tuple(include), tuple(exclude))

    def crawled(self, url: str) -> bool:
        if self.include:
            return any(p.search(url) for p in self.include)
        return origin(url) in self.origins

    def ignored(self, url: str) -> bool:
        return any(p.search(url) for p in self.exclude)
