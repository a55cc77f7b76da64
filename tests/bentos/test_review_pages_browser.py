"""The review pages in a real browser: Debian's Chromium driven by Playwright, against a real
`bentoml serve` trusting the kit's dev issuer. Screenshots go to build/review-pages/."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slipway.identity.dev_issuer import DevIssuer
from tests.bentos.conftest import Trained, record
from tests.bentos.server import Server, running
from tests.conftest import BENTOML_HOME, PROJECT_DIR

SIGN_IN_ROLES = ("reviewer", "second-reviewer", "auditor", "admin")

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SHOTS = PROJECT_DIR / "build" / "review-pages"


@pytest.fixture(scope="module")
def served(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    home = tmp_path_factory.mktemp("pages") / "home"
    shutil.copytree(trained.keys_dir, home / "keys")
    env = {**os.environ, "SLIPWAY_HOME": str(home), "BENTOML_HOME": str(BENTOML_HOME), "SLIPWAY_MODEL": trained.tag}
    with DevIssuer(home / "auth").serving(), running(env, home / "server.log") as server:
        server.wait_until_up("/readyz")
        yield server, home


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make test` installs it (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield instance
        instance.close()


def _serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in violations if v.get("impact") in ("serious", "critical")]


def _routed(server: Server, request_id: str) -> str:
    routed = httpx.post(f"{server.url}/predict", json={"record": record(0), "request_id": request_id}, timeout=30)
    return str(routed.json()["results"][0]["review_id"])


def _signed_in(browser: Any, server: Server, subject: str, role: str) -> Any:
    """A page in a fresh browser context (its own cookies), signed in through the dev login form."""
    assert role in SIGN_IN_ROLES
    page = browser.new_page()
    page.goto(f"{server.url}/ui/login")
    page.fill("#subject", subject)
    page.select_option("#role", role)
    page.click("form[action='/ui/login']:not(#with-token) button[type=submit]")
    page.wait_for_url("**/ui/")
    return page


def _audit(home: Path, review_id: str) -> list[tuple[str, str]]:
    lines = (home / "audit" / "reviews.jsonl").read_text().splitlines()
    return [
        (a["event"], a["data"].get("subject"))
        for a in map(json.loads, lines)
        if a["data"].get("review_id") == review_id
    ]


def test_from_the_queue_to_a_recorded_decision_in_n_1_and_enter(served: tuple[Server, Path], browser: Any) -> None:
    server, home = served
    routed = httpx.post(f"{server.url}/predict", json={"record": record(0), "request_id": "req-browser"}, timeout=30)
    review_id = routed.json()["results"][0]["review_id"]
    page = browser.new_page()
    page.goto(f"{server.url}/ui/")
    assert page.url.endswith("/ui/login")
    page.fill("#subject", "dr.browser")
    page.select_option("#role", "reviewer")
    page.click("form[action='/ui/login']:not(#with-token) button[type=submit]")
    page.wait_for_url("**/ui/")
    assert review_id in page.content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)
    assert _serious(page) == []
    page.keyboard.press("n")  # one key: the oldest case is claimed and opened
    page.wait_for_selector("#decide")
    assert review_id in page.url
    assert _serious(page) == []
    page.keyboard.press("1")  # the first class; focus moves to the reason
    page.keyboard.type("irregular margins on the slide")
    page.screenshot(path=str(SHOTS / "case.png"), full_page=True)
    page.keyboard.press("Enter")  # submit, from the reason field
    page.wait_for_url(f"**/ui/?decided={review_id}")
    audit = [json.loads(line) for line in (home / "audit" / "reviews.jsonl").read_text().splitlines()]
    decided = [(a["event"], a["data"].get("subject")) for a in audit if a["data"].get("review_id") == review_id]
    assert ("review.first_decision", "dr.browser") in decided or ("review.resolved", "dr.browser") in decided
    page.close()


def test_skip_gives_the_case_back_and_c_claims_it_again(served: tuple[Server, Path], browser: Any) -> None:
    server, _ = served
    routed = httpx.post(f"{server.url}/predict", json={"record": record(0), "request_id": "req-skip"}, timeout=30)
    review_id = routed.json()["results"][0]["review_id"]
    page = browser.new_page()
    page.goto(f"{server.url}/ui/login")
    page.fill("#subject", "dr.skip")
    page.click("form[action='/ui/login']:not(#with-token) button[type=submit]")
    page.wait_for_url("**/ui/")
    page.goto(f"{server.url}/ui/case/{review_id}")
    page.keyboard.press("c")
    page.wait_for_selector("#decide")
    page.keyboard.press("s")  # skip: back to the queue, unclaimed
    page.wait_for_url("**/ui/")
    row = page.locator("tr", has=page.locator(f"a[href='/ui/case/{review_id}']"))
    assert "dr.skip" not in row.inner_text()
    page.close()


def test_four_eyes_a_high_stakes_case_needs_a_second_person(served: tuple[Server, Path], browser: Any) -> None:
    server, home = served
    review_id = _routed(server, "req-four-eyes")  # the model said malignant: high stakes
    first = _signed_in(browser, server, "dr.first", "second-reviewer")
    first.goto(f"{server.url}/ui/case/{review_id}")
    first.keyboard.press("c")
    first.wait_for_selector("#decide")
    first.keyboard.press("1")
    first.keyboard.type("spiculated mass")
    first.keyboard.press("Enter")
    first.wait_for_url("**/ui/?decided=*")
    first.goto(f"{server.url}/ui/case/{review_id}")
    assert "a second person confirms" in first.inner_text("main")
    first.keyboard.press("c")  # the first reviewer cannot confirm their own decision
    first.wait_for_selector("[role=alert]")
    assert "the second must be another" in first.inner_text("[role=alert]")
    second = _signed_in(browser, server, "dr.second", "second-reviewer")
    second.goto(f"{server.url}/ui/case/{review_id}")
    second.keyboard.press("c")
    second.wait_for_selector("#decide")
    assert _serious(second) == []
    second.keyboard.press("1")
    second.keyboard.type("agree: malignant")
    second.keyboard.press("Enter")
    second.wait_for_url(f"**/ui/?decided={review_id}")
    events = _audit(home, review_id)
    assert ("review.first_decision", "dr.first") in events and ("review.resolved", "dr.second") in events
    first.close()
    second.close()


def test_a_lapsed_claim_returns_the_case_and_the_open_page_says_so(served: tuple[Server, Path], browser: Any) -> None:
    server, home = served
    review_id = _routed(server, "req-lease")
    holder = _signed_in(browser, server, "dr.slow", "reviewer")
    holder.goto(f"{server.url}/ui/case/{review_id}")
    holder.keyboard.press("c")
    holder.wait_for_selector("#decide")
    assert holder.is_hidden("#notice")
    # The lease runs out: its expiry, and the case's age, moved into the past in the real store,
    # instead of waiting out the 5-minute lease and the 4-hour review limit.
    with sqlite3.connect(home / "review" / "queue.db") as db:
        db.execute("UPDATE reviews SET claim_expires = ?, created = created - 3.5 * 3600 WHERE review_id = ?",
                   (time.time() - 1, review_id))  # fmt: skip
    holder.wait_for_selector("#notice:not([hidden])", timeout=20_000)  # the open page checks every 5 s
    assert "Your claim ran out" in holder.inner_text("#notice")
    assert holder.is_disabled("#decide button[type=submit]")
    other = _signed_in(browser, server, "dr.quick", "reviewer")
    row = other.locator("tr", has=other.locator(f"a[href='/ui/case/{review_id}']"))
    assert "dr.slow" not in row.inner_text()  # back in the queue, nobody's
    assert "due soon" in row.inner_text() and "soon" in (row.get_attribute("class") or "")  # red before breach
    background = row.locator("td").first.evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert background == "rgb(255, 215, 215)"
    other.goto(f"{server.url}/ui/case/{review_id}")
    other.keyboard.press("c")
    other.wait_for_selector("#decide")
    assert ("review.claimed", "dr.quick") in _audit(home, review_id)
    holder.close()
    other.close()


def test_an_auditor_sees_metadata_and_no_features(served: tuple[Server, Path], browser: Any) -> None:
    server, _ = served
    review_id = _routed(server, "req-auditor")
    page = _signed_in(browser, server, "a.auditor", "auditor")
    assert review_id in page.content()
    assert page.locator("[data-key=n]").count() == 0  # nothing to take
    page.goto(f"{server.url}/ui/case/{review_id}")
    assert "mean_radius" not in page.content() and "needs one of the roles" in page.inner_text("[role=alert]")
    page.goto(f"{server.url}/ui/audit?review={review_id}")
    assert "Hash chain intact" in page.inner_text("main") and "review.created" in page.inner_text("tbody")
    assert "mean_radius" not in page.content()
    page.screenshot(path=str(SHOTS / "audit.png"), full_page=True)
    assert _serious(page) == []
    page.close()


def test_a_form_with_a_wrong_csrf_token_or_from_another_origin_is_refused(
    served: tuple[Server, Path], browser: Any
) -> None:
    server, home = served
    review_id = _routed(server, "req-csrf")
    page = _signed_in(browser, server, "dr.csrf", "reviewer")
    page.goto(f"{server.url}/ui/case/{review_id}")
    token = page.get_attribute("input[name=csrf]", "value")
    page.evaluate("() => document.querySelector('input[name=csrf]').value = '0'.repeat(64)")
    page.keyboard.press("c")
    page.wait_for_selector("[role=alert]")
    assert "CSRF check failed" in page.inner_text("[role=alert]")
    # Another origin on the same host (same site, so the cookie goes along) posts a form holding even the
    # right token: its Origin is refused.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        elsewhere = f"http://127.0.0.1:{sock.getsockname()[1]}/attack"
    page.route(elsewhere, lambda route: route.fulfill(content_type="text/html", body=(
        f'<form method="post" action="{server.url}/ui/case/{review_id}/claim"><input name="csrf" value="{token}">'
        '</form><script>document.forms[0].submit()</script>')))  # fmt: skip
    page.goto(elsewhere)
    page.wait_for_url(f"{server.url}/ui/case/{review_id}/claim")
    assert "cross-site requests are refused" in page.inner_text("[role=alert]")  # the foreign Origin, first of all
    assert ("review.claimed", "dr.csrf") not in _audit(home, review_id)
    page.close()


def test_a_sign_in_link_and_the_shortcut_switch(served: tuple[Server, Path], browser: Any) -> None:
    server, home = served
    token = DevIssuer(home / "auth").mint("dr.link", ["reviewer"])
    page = browser.new_page()
    page.goto(f"{server.url}/ui/login#token={token}")
    page.wait_for_url(f"{server.url}/ui/")  # signed in; the token left the address bar
    assert "dr.link" in page.inner_text("header")
    page.uncheck("#shortcuts")
    page.reload()
    assert not page.is_checked("#shortcuts")  # remembered
    pressed = page.evaluate("""() => {
        const event = new KeyboardEvent("keydown", {key: "n", bubbles: true, cancelable: true});
        document.body.dispatchEvent(event);
        return event.defaultPrevented;
    }""")
    assert pressed is False  # switched off: n does nothing
    page.check("#shortcuts")
    page.close()
