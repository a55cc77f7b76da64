"""The review pages in a real browser: Debian's Chromium driven by Playwright, against a real
`bentoml serve` trusting the kit's dev issuer. Screenshots go to build/review-pages/."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slipway.identity.dev_issuer import DevIssuer
from tests.bentos.conftest import Trained, record
from tests.bentos.server import Server, running
from tests.conftest import BENTOML_HOME, PROJECT_DIR

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


def test_from_the_queue_to_a_recorded_decision_in_n_1_and_enter(served: tuple[Server, Path], browser: Any) -> None:
    server, home = served
    routed = httpx.post(f"{server.url}/predict", json={"record": record(0), "request_id": "req-browser"}, timeout=30)
    review_id = routed.json()["results"][0]["review_id"]
    page = browser.new_page()
    page.goto(f"{server.url}/ui/")
    assert page.url.endswith("/ui/login")
    page.fill("#subject", "dr.browser")
    page.select_option("#role", "reviewer")
    page.click("button[type=submit]")
    assert page.url.endswith("/ui/") and review_id in page.content()
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
    page.click("button[type=submit]")
    page.goto(f"{server.url}/ui/case/{review_id}")
    page.keyboard.press("c")
    page.wait_for_selector("#decide")
    page.keyboard.press("s")  # skip: back to the queue, unclaimed
    page.wait_for_url("**/ui/")
    row = page.locator("tr", has=page.locator(f"a[href='/ui/case/{review_id}']"))
    assert "dr.skip" not in row.inner_text()
    page.close()
