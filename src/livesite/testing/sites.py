"""A generated static site with planted broken links and broken fragments, for link checkers.

Deterministic for a seed: ``/index.html`` links to every page; each page ``/page-N.html`` links to the
index, its neighbours (so the site is full of cycles), a few random pages, a few anchors of other
pages (``#sK``, which exist) and a shared image. Then broken links (to pages that do not exist) and
broken fragments (``#nopeK`` on pages that do exist) are planted on random pages, and the site says
exactly which: :attr:`Site.planted` holds ``(page path, link path)`` pairs, the link as an absolute
path with its fragment. The tests and ``bench/links.py`` judge a link checker by that set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SECTIONS = 4
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


@dataclass(slots=True)
class Site:
    files: dict[str, bytes] = field(default_factory=dict)  # path under the document root → content
    planted: set[tuple[str, str]] = field(default_factory=set)  # (page path, broken link path)

    @property
    def pages(self) -> int:
        return sum(1 for name in self.files if name.endswith(".html"))


def _page(n: int, pages: int, rng: random.Random, extra: list[str]) -> str:
    links = ['<a href="/index.html">Home</a>', '<img src="/logo.png" alt="logo">']
    links += [f'<a href="/page-{(n + d) % pages}.html">page {(n + d) % pages}</a>' for d in (1, pages - 1)]
    for _ in range(6):
        links.append(f'<a href="/page-{rng.randrange(pages)}.html">more</a>')
    for _ in range(3):
        links.append(f'<a href="/page-{rng.randrange(pages)}.html#s{rng.randrange(SECTIONS)}">section</a>')
    links.append(f'<a href="#s{rng.randrange(SECTIONS)}">on this page</a>')
    links += extra
    sections = "\n".join(
        f'<section id="s{k}"><h2>Section {k}</h2><p>{"Lorem ipsum dolor sit amet. " * 8}</p></section>'
        for k in range(SECTIONS)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Page {n}</title>
<link rel="stylesheet" href="/site.css"></head>
<body><nav>{" ".join(links)}</nav>
<main><h1>Page {n}</h1>
{sections}
</main></body></html>
"""


def generate(pages: int, *, broken_links: int, broken_fragments: int, seed: int = 1) -> Site:
    """A site of ``pages`` pages (plus the index) with exactly the given number of planted defects."""
    if pages < 2:
        raise ValueError("a site needs at least 2 pages")
    rng = random.Random(seed)
    extra: dict[int, list[str]] = {}
    site = Site()
    for k in range(broken_links):
        n = rng.randrange(pages)
        target = f"/missing-{k}.html"
        extra.setdefault(n, []).append(f'<a href="{target}">gone</a>')
        site.planted.add((f"/page-{n}.html", target))
    for k in range(broken_fragments):
        n, other = rng.randrange(pages), rng.randrange(pages)
        target = f"/page-{other}.html#nope{k}"
        extra.setdefault(n, []).append(f'<a href="{target}">no such section</a>')
        site.planted.add((f"/page-{n}.html", target))
    for n in range(pages):
        site.files[f"page-{n}.html"] = _page(n, pages, rng, extra.get(n, [])).encode()
    index = "\n".join(f'<li><a href="/page-{n}.html">Page {n}</a></li>' for n in range(pages))
    site.files["index.html"] = (
        f"<!doctype html><html><head><title>Index</title></head><body><ul>\n{index}\n</ul></body></html>\n"
    ).encode()
    site.files["site.css"] = b"body { font-family: sans-serif }\n"
    site.files["logo.png"] = _PNG
    return site
