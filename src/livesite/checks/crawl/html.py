"""Links and anchors out of whatever a server sends as HTML, in time linear in its size.

Not a full HTML parser: a scanner that finds tags with ``str.find`` and a regular expression that
can never backtrack past the next ``>``, so garbage, unclosed comments and endless attribute lists
cost their length and nothing more (``html.parser`` is about ten times slower on real pages). It
knows what a link checker needs: the tags that link (``a``, ``area``, ``link``, ``img``, ``script``,
``iframe``, ``frame``, ``source``, ``embed``, ``track``, ``video``/``audio`` ``src``), ``<base href>``,
and the anchors a fragment may name (any element's ``id``, ``<a name>``). Comments and the contents of
``script``, ``style``, ``textarea`` and ``template`` hold no links. A quoted attribute value holding
``>`` ends the tag early (browsers read on): such a tag's later attributes are not seen.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

# Tag name and the rest of the tag up to the next '>': linear, since both parts stop at '>'.
_TAG = re.compile(r"<([A-Za-z][^\s/>]*)([^>]*)>")
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_LINKING = {
    "a": "href",
    "area": "href",
    "link": "href",
    "img": "src",
    "script": "src",
    "iframe": "src",
    "frame": "src",
    "source": "src",
    "embed": "src",
    "track": "src",
    "video": "src",
    "audio": "src",
}
_RAW_TEXT = frozenset({"script", "style", "textarea", "template", "title", "xmp"})
_ANCHORISH = re.compile(r"(?:^|\s)(?:id|name)\s*=", re.I)  # an attribute that may define an anchor
_CLOSING = {name: re.compile(f"</{name}", re.I) for name in _RAW_TEXT}
_NOT_A_RESOURCE = frozenset({"preconnect", "dns-prefetch"})  # they name an origin, not a document


@dataclass(slots=True)
class Found:
    """What one page holds: links in document order as (tag, href) and the anchors it defines."""

    links: list[tuple[str, str]] = field(default_factory=list)
    anchors: set[str] = field(default_factory=set)
    base: str | None = None  # the first <base href>, as written


def _attributes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(text):
        name = m.group(1).lower()
        if name not in out:  # the first of repeated attributes wins, as in browsers
            value = m.group(2)
            if value is None:
                value = m.group(3)
            if value is None:
                value = m.group(4) or ""
            out[name] = html.unescape(value) if "&" in value else value
    return out


def _a_resource(attrs: dict[str, str]) -> bool:
    return not _NOT_A_RESOURCE.intersection(attrs.get("rel", "").lower().split())


def _skip_comments(text: str) -> str:
    """``text`` without comments; an unclosed comment runs to the end (as in browsers)."""
    if "<!--" not in text:
        return text
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find("<!--", pos)
        if start < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        end = text.find("-->", start + 4)
        if end < 0:
            break
        pos = end + 3
    return "".join(parts)


def extract(body: bytes | str) -> Found:
    """Links and anchors of an HTML document. Never raises, whatever the bytes."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = _skip_comments(text)
    last = text.rfind(">")
    text = text[: last + 1]  # past the last '>' no tag can end: nothing to scan for
    found = Found()
    pos = 0
    search = _TAG.search
    while True:
        m = search(text, pos)
        if m is None:
            return found
        pos = m.end()
        name, rest = m.groups()
        name = name.lower()
        wanted = _LINKING.get(name)
        if wanted is not None or name == "base" or ("=" in rest and _ANCHORISH.search(rest)):
            attrs = _attributes(rest) if rest else {}
            anchor = attrs.get("id")
            if anchor:
                found.anchors.add(anchor)
            if name == "a" and attrs.get("name"):
                found.anchors.add(attrs["name"])
            if name == "base":
                if found.base is None and "href" in attrs:
                    found.base = attrs["href"]
            elif wanted is not None and wanted in attrs and (name != "link" or _a_resource(attrs)):
                found.links.append((name, attrs[wanted]))
        if name in _RAW_TEXT and not rest.endswith("/"):
            closing = _CLOSING[name].search(text, pos)
            if closing is None:
                return found  # an unclosed <script>: the rest is its text, as in browsers
            pos = closing.start()
