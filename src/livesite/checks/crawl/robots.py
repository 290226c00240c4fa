"""robots.txt: which paths of an origin a crawler may fetch.

Parsing is the standard library's (``urllib.robotparser``, the rules of the original robots.txt
convention plus ``Allow``); this module only feeds it a body already fetched, so it stays pure, and
says what an unreadable robots.txt means: no rules. RFC 9309 tells a search engine to crawl nothing
when robots.txt answers 5xx; a link checker that did so would report a healthy site as checked
while checking nothing, so any answer but a 2xx allows everything (as linkchecker does).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB


@dataclass(frozen=True, slots=True)
class Robots:
    """The rules of one origin for one user agent."""

    parser: RobotFileParser | None  # None: everything allowed
    refuse_all: bool = False

    def allowed(self, url: str, agent: str) -> bool:
        if self.refuse_all:
            return False
        return self.parser is None or self.parser.can_fetch(agent, url)


ALLOW_ALL = Robots(None)


def parse(text: str) -> Robots:
    """Rules from the text of a robots.txt (any text: lines that mean nothing are ignored)."""
    parser = RobotFileParser()
    parser.parse(text[:MAX_ROBOTS_BYTES].splitlines())
    return Robots(parser)


def from_answer(status: int, body: bytes) -> Robots:
    """The rules an answer to ``GET /robots.txt`` gives (status 0: no answer)."""
    if 200 <= status < 300:
        return parse(body.decode("utf-8", "replace"))
    return ALLOW_ALL
