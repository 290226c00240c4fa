"""Secrets are removed when a Result is built: in URLs, in observed values, in echoed credentials."""

from __future__ import annotations

import base64
from typing import Any

from livesite.assertions import parse
from livesite.checks import DnsCheck, HttpCheck, TcpCheck
from livesite.checks.redact import MASK, SHOWN, Redactor, masked_subjects
from livesite.config import loads
from livesite.results import AssertionOutcome


def http(**fields: Any) -> HttpCheck:
    return HttpCheck.model_validate({"name": "probe", "url": "https://shop.example.com/", **fields})


def observed(redactor: Redactor, expr: str, seen: str) -> str | None:
    rule = parse(expr)
    [out] = redactor.outcomes(
        [AssertionOutcome(expr=expr, observed=seen, passed=False)], masked_subjects([rule])
    )
    return out.observed


def test_user_info_in_a_url_is_masked() -> None:
    assert Redactor().url("https://alice:pw@shop.example.com/x") == f"https://{MASK}@shop.example.com/x"


def test_secret_looking_query_parameters_are_masked_and_others_kept() -> None:
    url = "https://shop.example.com/api?api_key=abc123&page=2&session_id=s1&sig=zz&author=me"
    assert (
        Redactor().url(url)
        == f"https://shop.example.com/api?api_key={MASK}&page=2&session_id={MASK}&sig={MASK}&author=me"
    )


def test_a_url_without_secrets_is_unchanged() -> None:
    url = "https://shop.example.com/cart?page=2#top"
    assert Redactor().url(url) == url


def test_the_basic_password_and_its_base64_form_are_masked_in_observed_values() -> None:
    redactor = Redactor.for_check(http(auth={"basic": {"username": "probe", "password": "hunter2-secret"}}))
    wire = base64.b64encode(b"probe:hunter2-secret").decode()
    assert observed(redactor, "body contains x", f"seen: {wire}") == f"seen: {MASK}"
    assert observed(redactor, "body contains x", '{"password": "hunter2-secret"}') == '{"password": "****"}'


def test_a_secret_cut_at_the_display_length_leaves_no_prefix_behind() -> None:
    # Cutting before redacting used to keep 16 of a token's 18 characters.
    token = "tokSECRET_bbbb22zz"
    redactor = Redactor.for_check(http(auth={"bearer": {"token": token}}))
    text = "x" * (SHOWN - 10) + token + " and more"
    shown = observed(redactor, "body contains y", text)
    assert shown is not None and "tokSEC" not in shown and len(shown) <= SHOWN + 1
    prefix_only = "x" * (SHOWN - 6) + token[:10]  # a value that *ends* inside the secret
    shown = observed(redactor, "body contains y", prefix_only + "y" * 50)
    assert shown is not None and "tokS" not in shown


def test_what_is_left_of_a_secret_cut_before_redaction_is_masked_wherever_it_stands() -> None:
    # tcp quotes the first 80 bytes it read, so a secret may reach the frame already cut, mid-text.
    redactor = Redactor.of(["tokSECRET_bbbb22zz"])
    assert redactor.text("received b'no route tokSECRE'") == f"received b'no route {MASK}'"
    assert redactor.text("tokSE, tokSECRET_bbbb22zz") == f"tokSE, {MASK}"  # 5 characters: a word, not a cut


def test_secrets_sharing_their_first_characters_are_each_masked_whole() -> None:
    redactor = Redactor.of(["shared-prefix-long-one", "shared-prefix-2"])
    assert redactor.text("a shared-prefix-2 b shared-prefix-long-one") == f"a {MASK} b {MASK}"


def test_echoed_requests_lose_their_credentials() -> None:
    echo = "GET /api?api_key=SECRETVALUE HTTP/1.1\r\nAuthorization: Basic cHJvYmV1c2VyOnB3U2VjcmV0\r\n"
    shown = Redactor().text(echo, SHOWN)
    assert "SECRETVALUE" not in shown and "cHJvYmV1c2VyOnB3U2VjcmV0" not in shown
    assert "\n" not in shown  # one line


def test_observed_values_of_secret_subjects_are_masked_whole() -> None:
    redactor = Redactor()
    assert observed(redactor, "json.token exists", "eyJhbGciOi.payload.sig") == MASK
    assert observed(redactor, "json.data.accessToken exists", "abc") == MASK
    assert observed(redactor, "header.Set-Cookie exists", "session=abc; Path=/") == MASK
    assert observed(redactor, "header.X-Api-Token exists", "abc") == MASK
    assert observed(redactor, "json.author == me", "someone") == "someone"
    assert observed(redactor, "len(json.token) > 10", "24") == "24"


def test_env_values_in_headers_query_and_send_are_secrets_but_not_elsewhere() -> None:
    config = loads(
        """
checks:
  - name: api
    url: "https://shop.example.com/${PATH_PART}?access=${ACCESS}"
    headers: {X-Custom: "${HEADER_SECRET}"}
  - {name: sock, kind: tcp, address: "127.0.0.1:25", send: "AUTH ${SEND_SECRET}\\r\\n"}
""",
        env={
            "PATH_PART": "health",
            "ACCESS": "acc-998877",
            "HEADER_SECRET": "hdr-112233",
            "SEND_SECRET": "snd-445566",
        },
    )
    api, sock = config.checks
    assert set(Redactor.for_check(api).secrets) == {"acc-998877", "hdr-112233"}
    assert Redactor.for_check(sock).secrets == ("snd-445566",)


def test_secrets_shorter_than_four_characters_are_not_masked_everywhere() -> None:
    # Masking "ab" would garble every observed value that happens to contain those letters.
    redactor = Redactor.for_check(http(auth={"bearer": {"token": "ab"}}))
    assert redactor.text("a table") == "a table"


def test_other_check_kinds_have_no_secrets_of_their_own() -> None:
    spec = DnsCheck.model_validate({"name": "d", "kind": "dns", "query": "shop.example.com"})
    assert Redactor.for_check(spec).secrets == ()
    tcp = TcpCheck.model_validate({"name": "t", "kind": "tcp", "address": "x:1", "send": "PING"})
    assert Redactor.for_check(tcp).secrets == ()


def test_json_fields_named_like_credentials_are_masked_though_their_values_are_unknown() -> None:
    shown = Redactor().text('{"password": "hunter2", "pwd": "x1", "otp": "123456", "name": "ok"}', SHOWN)
    assert shown == '{"password": "****", "pwd": "****", "otp": "****", "name": "ok"}'
