"""The reviewers' pages, in-process (the browser tests drive the same pages through Chromium)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.bentos.conftest import record
from tests.conftest import LocalIssuer

ORIGIN = {"origin": "http://testserver"}


def _routed(client: Any, request_id: str = "req-page") -> str:
    answer = client.post("/predict", json={"record": record(0), "request_id": request_id}).json()
    return str(answer["results"][0]["review_id"])


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_queue_case_claim_and_decision_with_the_verified_identity(
    local_issuer: LocalIssuer, client: Any, home: Path
) -> None:
    review_id = _routed(client)
    dr_a = local_issuer.headers("dr.a", "reviewer")
    queue = client.get("/ui/", headers=dr_a)
    assert queue.status_code == 200 and review_id in queue.text
    assert "script-src 'self'" in queue.headers["content-security-policy"]
    case = client.get(f"/ui/case/{review_id}", headers=dr_a)
    assert case.status_code == 200 and "Claim this case" in case.text and "unusual" in case.text
    claimed = client.post(f"/ui/case/{review_id}/claim", data={"csrf": _csrf(case.text)}, headers={**dr_a, **ORIGIN},
                          follow_redirects=False)  # fmt: skip
    assert claimed.status_code == 303
    case = client.get(f"/ui/case/{review_id}", headers=dr_a)
    version = re.search(r'name="version" value="(\d+)"', case.text)
    assert version and 'data-key="1"' in case.text
    decided = client.post(f"/ui/case/{review_id}/decide", headers={**dr_a, **ORIGIN}, follow_redirects=False,
                          data={"csrf": _csrf(case.text), "version": version.group(1), "label": "malignant",
                                "note": "mass clearly irregular"})  # fmt: skip
    assert decided.status_code == 303
    audit = [json.loads(line) for line in (home / "audit" / "reviews.jsonl").read_text().splitlines()]
    assert ("review.first_decision", "dr.a") in [(a["event"], a["data"].get("subject")) for a in audit]


def test_forms_need_their_csrf_token_and_this_origin(local_issuer: LocalIssuer, client: Any, home: Path) -> None:
    review_id = _routed(client)
    dr_a = local_issuer.headers("dr.a", "reviewer")
    token = _csrf(client.get(f"/ui/case/{review_id}", headers=dr_a).text)
    for data, headers in (({}, ORIGIN), ({"csrf": "0" * 64}, ORIGIN), ({"csrf": token}, {}),
                          ({"csrf": token}, {"origin": "https://evil.example"})):  # fmt: skip
        refused = client.post(f"/ui/case/{review_id}/claim", data=data, headers={**dr_a, **headers})
        assert refused.status_code == 403
    other = local_issuer.headers("dr.b", "reviewer")  # another person's page token is useless
    assert (
        client.post(f"/ui/case/{review_id}/claim", data={"csrf": token}, headers={**other, **ORIGIN}).status_code == 403
    )
    events = [json.loads(line)["event"] for line in (home / "audit" / "reviews.jsonl").read_text().splitlines()]
    assert "review.claimed" not in events


def test_auditors_see_the_queue_but_never_a_persons_features(local_issuer: LocalIssuer, client: Any) -> None:
    review_id = _routed(client)
    auditor = local_issuer.headers("a.auditor", "auditor")
    assert client.get("/ui/", headers=auditor).status_code == 200
    case = client.get(f"/ui/case/{review_id}", headers=auditor)
    assert case.status_code == 403 and "mean_radius" not in case.text
    spoofed = client.get("/ui/", headers={"X-Forwarded-User": "dr.a"}, follow_redirects=False)
    assert spoofed.status_code == 303 and spoofed.headers["location"] == "/ui/login"  # the dev issuer's login


def test_the_dev_login_sets_an_http_only_strict_cookie_that_the_pages_verify(
    local_issuer: LocalIssuer, client: Any
) -> None:
    review_id = _routed(client)
    assert client.get("/ui/login").status_code == 200
    assert client.post("/ui/login", data={"subject": "dr.c", "role": "reviewer"}).status_code == 403  # no origin
    signed_in = client.post("/ui/login", data={"subject": "dr.c", "role": "reviewer"}, headers=ORIGIN,
                            follow_redirects=False)  # fmt: skip
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert review_id in client.get("/ui/").text  # the cookie now carries a verified token
    client.cookies.set("slipway_token", "forged.token.value", path="/ui")
    assert client.get("/ui/", follow_redirects=False).status_code == 303  # refused back to the login


def test_next_claims_the_oldest_case_and_skip_returns_it(local_issuer: LocalIssuer, client: Any, home: Path) -> None:
    first, _ = _routed(client, "req-1"), _routed(client, "req-2")
    dr_a = local_issuer.headers("dr.a", "reviewer")
    token = _csrf(client.get("/ui/", headers=dr_a).text)
    taken = client.post("/ui/next", data={"csrf": token}, headers={**dr_a, **ORIGIN}, follow_redirects=False)
    assert taken.status_code == 303 and taken.headers["location"] == f"/ui/case/{first}"
    skipped = client.post(f"/ui/case/{first}/skip", data={"csrf": token}, headers={**dr_a, **ORIGIN},
                          follow_redirects=False)  # fmt: skip
    assert skipped.status_code == 303
    events = [json.loads(line)["event"] for line in (home / "audit" / "reviews.jsonl").read_text().splitlines()]
    assert events[-2:] == ["review.claimed", "review.released"]
    assert "dr.a" not in client.get("/ui/", headers=dr_a).text.split("<tbody>")[1].split(first)[1].split("</tr>")[0]


def test_without_any_issuer_there_is_no_login_page_and_nobody_is_let_in(client: Any) -> None:
    unauthenticated = client.get("/ui/", follow_redirects=False)
    assert unauthenticated.status_code == 401 and "an access token is required" in unauthenticated.text
    assert client.get("/ui/login").status_code == 404
    assert client.post("/ui/login", data={"subject": "x", "role": "admin"}, headers=ORIGIN).status_code == 404


def _claimed(client: Any, review_id: str, headers: dict[str, str]) -> tuple[str, str]:
    """Claim through the page as a person would; the CSRF token and the version their form shows."""
    page = client.get(f"/ui/case/{review_id}", headers=headers).text
    client.post(f"/ui/case/{review_id}/claim", data={"csrf": _csrf(page)}, headers={**headers, **ORIGIN})
    page = client.get(f"/ui/case/{review_id}", headers=headers).text
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version, "the claimed case shows no decision form"
    return _csrf(page), version.group(1)


def test_a_case_decided_by_someone_else_while_open_says_so(local_issuer: LocalIssuer, client: Any) -> None:
    review_id = _routed(client)
    dr_a, dr_b = local_issuer.headers("dr.a", "reviewer"), local_issuer.headers("dr.b", "admin")
    csrf, seen = _claimed(client, review_id, dr_a)
    state = client.get(f"/ui/case/{review_id}/state?seen={seen}", headers=dr_a).json()
    assert state["notice"] is None  # still theirs
    client.post(f"/ui/case/{review_id}/skip", data={"csrf": csrf}, headers={**dr_a, **ORIGIN})  # another tab
    state = client.get(f"/ui/case/{review_id}/state?seen={seen}", headers=dr_a).json()
    assert "went back to the queue" in state["notice"]
    b_csrf, b_seen = _claimed(client, review_id, dr_b)
    assert (
        "dr.b holds this case now"
        in client.get(f"/ui/case/{review_id}/state?seen={seen}", headers=dr_a).json()["notice"]
    )
    client.post(f"/ui/case/{review_id}/decide", headers={**dr_b, **ORIGIN},
                data={"csrf": b_csrf, "version": b_seen, "label": "benign", "note": "smooth margins"})  # fmt: skip
    late = client.post(f"/ui/case/{review_id}/decide", headers={**dr_a, **ORIGIN},
                       data={"csrf": csrf, "version": seen, "label": "malignant", "note": "too late"})  # fmt: skip
    assert late.status_code == 409
    assert "dr.b" in late.text and "while you had it open" in late.text and "Nothing of yours was recorded" in late.text
    assert 'data-key="n"' in late.text  # straight on to the next case


def test_the_audit_page_shows_verified_identities_and_never_a_feature(
    local_issuer: LocalIssuer, client: Any, home: Path
) -> None:
    review_id = _routed(client)
    dr_a = local_issuer.headers("dr.a", "reviewer")
    csrf, version = _claimed(client, review_id, dr_a)
    client.post(f"/ui/case/{review_id}/decide", headers={**dr_a, **ORIGIN},
                data={"csrf": csrf, "version": version, "label": "malignant", "note": "irregular"})  # fmt: skip
    auditor = local_issuer.headers("a.auditor", "auditor")
    page = client.get(f"/ui/audit?review={review_id}", headers=auditor)
    assert page.status_code == 200 and "Hash chain intact" in page.text
    assert "review.first_decision" in page.text and "dr.a" in page.text and local_issuer.url in page.text
    assert "mean_radius" not in page.text and "irregular" not in page.text  # no features, no notes
    assert client.get("/ui/audit", headers=dr_a).status_code == 403  # reviewers decide; auditors audit
    trail = home / "audit" / "reviews.jsonl"
    lines = trail.read_text().splitlines()
    trail.write_text("\n".join([lines[0].replace("review.created", "review.tampered"), *lines[1:]]) + "\n")
    broken = client.get("/ui/audit", headers=auditor)
    assert broken.status_code == 200 and "The hash chain is broken" in broken.text


def test_a_ready_token_signs_in_and_a_bad_one_does_not(local_issuer: LocalIssuer, client: Any) -> None:
    review_id = _routed(client)
    token = local_issuer.mint("dr.link", "reviewer")
    signed_in = client.post("/ui/login", data={"token": token}, headers=ORIGIN, follow_redirects=False)
    assert signed_in.status_code == 303 and "HttpOnly" in signed_in.headers["set-cookie"]
    assert review_id in client.get("/ui/").text
    client.cookies.clear()
    refused = client.post("/ui/login", data={"token": "e30.e30.forged"}, headers=ORIGIN, follow_redirects=False)
    assert refused.status_code == 401 and "token refused" in refused.text and "set-cookie" not in refused.headers
    assert client.post("/ui/login", data={"token": token}).status_code == 403  # not from this page
