"""The assertion language, parsed once at load and evaluated by one pure function.

An assertion reads ``<subject> <operator> <operand>``::

    status == 200              status in [200, 204]        status in 200..299
    latency < 300ms            latency.connect < 50ms      size < 100kB
    header.X-Cache == HIT      header.Age < 60             header.Set-Cookie exists
    header.Content-Type matches "json"                     body contains "Add to cart"
    json.items[0].price == 12.5    json.ok == true         len(json.items) >= 3
    cert.days_left > 14        cert.days_left > 48h        answers contains 127.0.0.1

Bare numbers are milliseconds for latency, bytes for size and days for certificates.
:func:`evaluate` is the only place that decides pass or fail; it does no I/O and keeps the value it
observed next to every verdict, so a page or an alert can say *why*.
"""

from livesite.assertions.evaluate import evaluate
from livesite.assertions.language import (
    PHASES,
    SUBJECTS,
    Assertion,
    AssertionSyntaxError,
    Family,
    Observation,
    Op,
    Operand,
    Subject,
)
from livesite.assertions.parse import parse

__all__ = [
    "PHASES",
    "SUBJECTS",
    "Assertion",
    "AssertionSyntaxError",
    "Family",
    "Observation",
    "Op",
    "Operand",
    "Subject",
    "evaluate",
    "parse",
]
