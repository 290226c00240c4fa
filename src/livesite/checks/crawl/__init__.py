"""The link crawler behind the ``links`` check kind and ``livesite links``.

One job per module: :mod:`.urls` (absolute URLs, normalisation, scope), :mod:`.html` (links and
anchors out of any bytes a server sends), :mod:`.robots` (robots.txt), :mod:`.fetch` (keep-alive
connections per origin on ``livesite.net.http1``, a rate limit, a deadline per request) and
:mod:`.crawler` (the frontier, the workers, and the verdict on each link). The core is pure: what a
page links to and whether a link is broken are decided from data, the I/O stays in ``fetch``.
"""

from __future__ import annotations

from livesite.checks.crawl.crawler import Crawl, CrawlSettings, Referral, crawl

__all__ = ["Crawl", "CrawlSettings", "Referral", "crawl"]
