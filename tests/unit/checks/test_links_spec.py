"""The links check's spec: fuzzed fields are either a valid spec or a ValueError that says why, never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from livesite.checks.links import LinksCheck

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**7),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=20), max_size=3),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=2),
)
_FIELDS = st.sampled_from(
    [
        "start", "include", "exclude", "max_depth", "max_pages", "concurrency", "rate_per_second", "robots",
        "external", "referrals", "request_timeout", "max_page_bytes", "max_redirects", "keep_broken", "headers",
        "timeout", "unknown_key",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_FIELDS, _VALUES, max_size=5))
def test_any_fields_make_a_spec_or_a_validation_error(fields: dict[str, object]) -> None:
    data = {"kind": "links", "name": "links", "start": ["/"], **fields}
    try:
        spec = LinksCheck.model_validate(data)
    except ValidationError as e:
        assert e.errors()
        return
    assert spec.start and spec.concurrency >= 1 and spec.max_page_bytes >= 1024


def test_referrals_are_checked_when_the_config_loads() -> None:
    spec = LinksCheck.model_validate(
        {
            "kind": "links",
            "name": "l",
            "start": ["https://shop.test/"],
            "referrals": [{"match": "ref=", "lands_on": "HTTPS://Partner.test", "keep": ["ref"]}],
        }
    )
    assert spec.referrals[0].lands_on == "https://partner.test/"


def test_the_failure_names_each_broken_link_once_dead_links_before_missing_anchors() -> None:
    from livesite.checks.links import failure_message
    from livesite.results import BrokenLink

    site = "https://shop.test"
    missing = "no element with id or name 'reviews' on the page"
    broken = [BrokenLink(page=f"{site}/p{n}", link=f"{site}/p1#reviews", reason=missing) for n in range(1, 4)]
    broken += [BrokenLink(page=f"{site}/", link=f"{site}/sale", reason="HTTP 404")]
    broken += [BrokenLink(page=f"{site}/", link="https://partner.test/x?ref=shop", reason="HTTP 503")]
    assert failure_message(broken) == (
        "5 broken links: https://partner.test/x?ref=shop on / (HTTP 503); /sale on / (HTTP 404); "
        f"/p1#reviews on /p1 and 2 other pages ({missing})"
    )
