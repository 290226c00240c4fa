"""`livesite links` as a person and a pipeline use it: TSV in a pipe, a table on a terminal, JSON, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cli_runner import livesite, livesite_on_terminal
from livesite.demo import DemoState
from livesite.testing import TargetServer

HTML = {"Content-Type": "text/html"}


@pytest.fixture
def shop() -> Iterator[TargetServer]:
    with TargetServer().in_thread() as target:
        target.respond(
            "/",
            body='<a href="/sale">sale</a> <a href="/about#team">team</a> <a href="/about">about</a>'
            '<a href="/evil\tname">tab</a>',
            headers=HTML,
        )
        target.respond("/about", body='<h1 id="intro">About</h1><a href="/">home</a>', headers=HTML)
        target.respond("/healthy", body='<a href="/about#intro">about</a>', headers=HTML)
        yield target


def test_in_a_pipe_each_broken_link_is_one_tab_separated_line_and_the_exit_code_is_1(
    shop: TargetServer,
) -> None:
    done = livesite("links", shop.url("/"))
    assert done.returncode == 1, done.stderr
    lines = sorted(done.stdout.splitlines())
    home = shop.url("/")
    assert lines == [
        f"{home}\t{shop.url('/about#team')}\tno element with id or name 'team' on the page",
        f"{home}\t{shop.url('/evilname')}\tHTTP 404",  # a tab inside a URL is dropped, as browsers do
        f"{home}\t{shop.url('/sale')}\tHTTP 404",
    ]
    assert all(line.count("\t") == 2 for line in lines)  # a tab in a URL never splits a field
    assert "3 broken" in done.stderr


def test_a_site_without_broken_links_exits_0_and_prints_nothing_on_stdout(shop: TargetServer) -> None:
    done = livesite("links", shop.url("/healthy"), "--concurrency", "2", "--depth", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "0 broken" in done.stderr


def test_json_is_one_document_with_the_counts_and_every_broken_link(shop: TargetServer) -> None:
    done = livesite("links", shop.url("/"), "--json")
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["status"] == "failed"
    assert document["broken_total"] == len(document["broken"]) == 3
    assert document["pages"] == 2
    assert {b["reason"] for b in document["broken"]} >= {"HTTP 404"}


def test_on_a_terminal_the_broken_links_are_a_table(shop: TargetServer) -> None:
    run = livesite_on_terminal("links", shop.url("/"), columns=200)
    assert run.returncode == 1
    assert "3 broken links" in run.output
    assert "no element with id or name 'team'" in run.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://example.com/"], "not an absolute http(s) URL"),
        (["http://127.0.0.1:1/", "--concurrency", "0"], "--concurrency"),
        (["http://127.0.0.1:1/", "--include", "("], "not a regular expression"),
        ([], "Missing argument"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(args: list[str], message: str) -> None:
    done = livesite("links", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_a_start_url_that_does_not_answer_is_a_broken_link() -> None:
    done = livesite("links", "http://127.0.0.1:1/", "--request-timeout", "2")
    assert done.returncode == 1
    page, link, reason = done.stdout.strip().split("\t")
    assert (page, link) == ("-", "http://127.0.0.1:1/")
    assert reason.startswith("connect: cannot connect to 127.0.0.1:1")


def test_the_healthy_demo_shop_has_no_broken_links(demo: DemoState) -> None:
    done = livesite("links", demo.env()["LIVESITE_DEMO_ZONE_A_URL"] + "/", "--json")
    assert done.returncode == 0, done.stdout
    document = json.loads(done.stdout)
    assert document["broken_total"] == 0
    assert document["pages"] >= 8  # home, products, each product, about, cart
