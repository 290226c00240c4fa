"""robots.txt as RFC 9309 reads it: which paths of an origin a crawler may fetch.

The group for our product token (``livesite`` of ``livesite/0.1``, case-insensitive) applies, else
the ``*`` group, else nothing is disallowed; groups naming the same agent are merged. Of the rules
matching a path, the longest pattern wins and ``Allow`` wins a tie; ``*`` matches any characters and
a final ``$`` anchors the end. (The standard library's ``urllib.robotparser`` takes the first match
in file order instead, so ``Allow: /private/open`` after ``Disallow: /private/`` never applies.)

An unreadable robots.txt means no rules. RFC 9309 tells a search engine to crawl nothing when it
answers 5xx; a link checker that did so would report a healthy site while checking nothing, so any
answer but a 2xx allows everything (as linkchecker does). Parsing is pure and never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
_MAX_RULES = 10_000


@dataclass(frozen=True, slots=True)
class Rule:
    allow: bool
    pattern: str

    def matches(self, path: str) -> bool:
        anchored = self.pattern.endswith("$")
        return _glob(self.pattern[:-1] if anchored else self.pattern, path, anchored)


def _glob(pattern: str, path: str, anchored: bool) -> bool:
    """``pattern`` (``*`` = any characters) matches a prefix of ``path`` (all of it when ``anchored``).

    The two-pointer wildcard match, O(len(pattern) x len(path)) at worst: a regex would backtrack
    exponentially on a hostile robots.txt full of stars.
    """
    p = t = 0
    star, mark = -1, 0
    while t < len(path):
        if p == len(pattern) and not anchored:
            return True
        if p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif p < len(pattern) and pattern[p] == path[t]:
            p += 1
            t += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    return all(c == "*" for c in pattern[p:])


@dataclass(frozen=True, slots=True)
class Robots:
    """The rules of one origin, grouped by lower-case user agent (``*`` for everyone else)."""

    groups: dict[str, tuple[Rule, ...]]

    def allowed(self, url: str, agent: str) -> bool:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if path == "/robots.txt":
            return True
        token = agent.split("/", 1)[0].strip().lower()
        rules = self.groups.get(token)
        if rules is None:
            rules = self.groups.get("*", ())
        best: Rule | None = None
        for rule in rules:
            if rule.matches(path) and (
                best is None
                or len(rule.pattern) > len(best.pattern)
                or (len(rule.pattern) == len(best.pattern) and rule.allow)
            ):
                best = rule
        return best is None or best.allow


ALLOW_ALL = Robots({})


def parse(text: str) -> Robots:
    """Rules from the text of a robots.txt; lines that mean nothing are ignored."""
    groups: dict[str, list[Rule]] = {}
    agents: list[str] = []
    in_rules = False  # a user-agent line after rules starts a new group
    count = 0
    for raw in text[:MAX_ROBOTS_BYTES].splitlines():
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.lower())
            for agent in agents:
                groups.setdefault(agent, [])
        elif key in ("allow", "disallow") and agents:
            in_rules = True
            if not value or count >= _MAX_RULES:
                continue  # "Disallow:" with nothing disallows nothing
            count += 1
            rule = Rule(key == "allow", value)
            for agent in agents:
                groups[agent].append(rule)
    return Robots({agent: tuple(rules) for agent, rules in groups.items()})


def from_answer(status: int, body: bytes) -> Robots:
    """The rules an answer to ``GET /robots.txt`` gives (status 0: no answer)."""
    if 200 <= status < 300:
        return parse(body.decode("utf-8", "replace"))
    return ALLOW_ALL
