"""The reviewers' pages: ``/ui/`` the queue, ``/ui/case/<id>`` one case and its decision,
``/ui/audit`` the audit trail for auditors (metadata only), and, only when the kit's dev issuer is
what the server trusts, ``/ui/login``.

Server-rendered (Jinja2, autoescaped), no build step and no CDN; small static scripts add the
keyboard shortcuts, live countdowns and the "someone else decided this" notice.

Identity as in the API: a bearer token forwarded by the organisation's auth proxy (oauth2-proxy,
Authservice), or the dev login's HttpOnly, SameSite=Strict cookie. Every POST needs the CSRF token
and a same-origin request; features are never in a URL.

Usage::

    SERVICE.mount_asgi_app(review_pages(lambda: runtime), path="/ui")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bentos.classifier.pages.notices import overtaken
from bentos.classifier.pages.security import SECURITY_HEADERS, csrf_token, csrf_valid, same_origin
from bentos.classifier.review_flow import ReviewConflict
from bentos.classifier.review_queue import ReviewNotFound, ReviewStoreUnavailable
from slipway.audit import AuditChainBroken
from slipway.identity import ADMIN, AUDITOR, REVIEWER, SECOND_REVIEWER, Forbidden, Identity

HERE = Path(__file__).resolve().parent
COOKIE = "slipway_token"
READERS = (REVIEWER, SECOND_REVIEWER, AUDITOR, ADMIN)
DECIDERS = (REVIEWER, SECOND_REVIEWER, ADMIN)
AUDIT_READERS = (AUDITOR, ADMIN)
LOGIN_ROLES = (*DECIDERS, AUDITOR)  # what the dev login offers
AUDIT_ROWS = 500
QUEUE_ROWS = 200  # the oldest; the heading counts them all
QUEUE_SCAN = 5000  # how far back a filter looks
SESSION_SECONDS = 8 * 3600  # the dev login's token; the token's own expiry still applies
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status, headers=SECURITY_HEADERS)


class Pages:
    def __init__(self, runtime: Callable[[], Any]) -> None:
        self.runtime = runtime  # the worker's ModelRuntime (queue, contract, model) and its access gate

    # -- who is asking -----------------------------------------------------------------------------------
    def _verified(self, headers: dict[str, str], query: str) -> tuple[Identity | None, Any]:
        checked: tuple[Identity | None, Any] = self.runtime().gate.check("/review/pending", headers, query)
        return checked

    def _identity(self, request: Request, roles: tuple[str, ...]) -> Identity | Response:
        """The verified person holding one of ``roles``, or the page that refuses them."""
        context = self.runtime()
        headers = dict(request.headers)
        if "authorization" not in headers and request.cookies.get(COOKIE):
            headers["authorization"] = f"Bearer {request.cookies[COOKIE]}"
        identity, refusal = self._verified(headers, request.url.query)
        if refusal is not None:
            if refusal[0] == 401 and context.dev_login:
                return RedirectResponse("/ui/login", status_code=303)
            return _page("error.html", refusal[0], message=refusal[1]["error"])
        assert identity is not None
        try:
            identity.require(*roles)
        except Forbidden as exc:
            return _page("error.html", 403, message=str(exc), identity=identity)
        return identity

    async def _posted(self, request: Request) -> tuple[Identity, FormData] | Response:
        """A decider's form from this very page (same origin, their CSRF token), or the refusal."""
        identity = self._identity(request, DECIDERS)
        if isinstance(identity, Response):
            return identity
        form = await request.form()
        submitted = form.get("csrf")
        csrf = submitted if isinstance(submitted, str) else None
        if not same_origin(request.headers) or not csrf_valid(self.runtime().csrf_key, identity, csrf):
            return _page("error.html", 403, message="this form is not from this page (CSRF check failed)")
        return identity, form

    # -- pages ---------------------------------------------------------------------------------------------
    async def queue(self, request: Request) -> Response:
        identity = self._identity(request, READERS)
        if isinstance(identity, Response):
            return identity
        runtime = self.runtime()
        reason, label = request.query_params.get("reason"), request.query_params.get("label")
        scanned = runtime.queue.pending(limit=QUEUE_SCAN if reason or label else QUEUE_ROWS)
        waiting, _ = runtime.queue.depth()
        matching = [
            i
            for i in scanned
            if (not reason or reason in i.reasons) and (not label or (not i.audit and i.prediction == label))
        ]  # an audit case's answer stays hidden
        items = [i.summary() for i in matching[:QUEUE_ROWS]]
        now = time.time()
        for item in items:
            item["sla_left"] = runtime.review_sla - (now - item["created"])
            if (item["claim_expires"] or 0.0) <= now:
                item["claimed_by"] = None  # a claim that ran out holds nothing
        return _page("queue.html", identity=identity, items=items, classes=runtime.contract.classes, waiting=waiting,
                     reason=reason, label=label, sla=runtime.review_sla,
                     decided=request.query_params.get("decided"), empty=request.query_params.get("empty"),
                     csrf=csrf_token(runtime.csrf_key, identity))  # fmt: skip

    async def case(self, request: Request) -> Response:
        identity = self._identity(request, DECIDERS)  # decrypted features: never for auditors
        if isinstance(identity, Response):
            return identity
        runtime = self.runtime()
        try:
            item, features, note = runtime.queue.get(request.path_params["review_id"], viewer=identity)
        except ReviewNotFound as exc:
            return _page("error.html", 404, message=str(exc), identity=identity)
        typical = _typical_ranges(runtime.model.card if runtime.model else {})
        rows = [{"name": name, "value": value, "typical": typical.get(name),
                 "unusual": name in typical and value is not None and not typical[name][0] <= value <= typical[name][1]}
                for name, value in features.items()]  # fmt: skip
        return _page("case.html", identity=identity, item=item.summary(), features=rows, note=note,
                     classes=runtime.contract.classes, csrf=csrf_token(runtime.csrf_key, identity),
                     mine=item.claimed_by == identity.subject and (item.claim_expires or 0) > time.time(),
                     four_eyes=runtime.four_eyes, now=time.time())  # fmt: skip

    async def state(self, request: Request) -> Response:
        """A case's metadata for its open page (no features): has it moved on since version ``seen``?"""
        identity = self._identity(request, DECIDERS)
        if isinstance(identity, Response):
            return identity
        try:
            item = self.runtime().queue.describe(request.path_params["review_id"])
            seen = int(request.query_params.get("seen", "-1"))
        except ReviewNotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404, headers=SECURITY_HEADERS)
        except ValueError:
            return JSONResponse({"error": "seen must be the version the page shows"}, 422, headers=SECURITY_HEADERS)
        notice = overtaken(item, identity.subject, seen=seen, now=time.time())
        return JSONResponse({"version": item.version, "status": item.status, "notice": notice},
                            headers=SECURITY_HEADERS)  # fmt: skip

    def _overtaken_page(self, identity: Identity, review_id: str, seen: int, refusal: Exception) -> Response:
        """The case moved on while this person had it open: say what happened and offer the next one
        (409); a refusal on a case that did not move (the wrong role: 403) is shown as it is."""
        item = self.runtime().queue.describe(review_id)
        notice = overtaken(item, identity.subject, seen=seen, now=time.time())
        if notice is None or (item.version == seen and isinstance(refusal, Forbidden)):
            status = 403 if isinstance(refusal, Forbidden) else 409
            return _page("error.html", status, message=str(refusal), identity=identity)
        return _page("overtaken.html", 409, identity=identity, item=item.summary(), notice=notice,
                     csrf=csrf_token(self.runtime().csrf_key, identity))  # fmt: skip

    async def audit(self, request: Request) -> Response:
        """The review audit trail for auditors: who did what and when, never a feature."""
        identity = self._identity(request, AUDIT_READERS)
        if isinstance(identity, Response):
            return identity
        trail = self.runtime().queue.audit
        try:
            intact, problem = trail.verify(), None
        except AuditChainBroken as exc:
            intact, problem = None, str(exc)
        review, subject, event = (request.query_params.get(name, "").strip() for name in ("review", "subject", "event"))
        records = [r for r in reversed(trail.records())
                   if (not review or r["data"].get("review_id") == review)
                   and (not subject or r["data"].get("subject") == subject)
                   and (not event or r["event"] == event)]  # fmt: skip
        return _page("audit.html", identity=identity, records=records[:AUDIT_ROWS], shown=min(len(records), AUDIT_ROWS),
                     matching=len(records), intact=intact, problem=problem, review=review, subject=subject,
                     event=event, trail=str(trail.path))  # fmt: skip

    async def claim(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        identity, _ = posted
        review_id = request.path_params["review_id"]
        try:
            self.runtime().queue.claim(review_id, who=identity)
        except (ReviewConflict, Forbidden) as exc:
            return _page("error.html", 409, message=str(exc), identity=identity)
        return RedirectResponse(f"/ui/case/{review_id}", status_code=303)

    async def next_case(self, request: Request) -> Response:
        """Claim the oldest case this person may take, and open it (one key on the queue: n)."""
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        identity, _ = posted
        item = self.runtime().queue.claim_next(who=identity)
        if item is None:
            return RedirectResponse("/ui/?empty=1", status_code=303)
        return RedirectResponse(f"/ui/case/{item.review_id}", status_code=303)

    async def skip(self, request: Request) -> Response:
        """Give the case back to the queue (s)."""
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        identity, _ = posted
        try:
            self.runtime().queue.release(request.path_params["review_id"], who=identity)
        except ReviewConflict as exc:
            return _page("error.html", 409, message=str(exc), identity=identity)
        return RedirectResponse("/ui/", status_code=303)

    async def decide(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        identity, form = posted
        review_id, label, note = request.path_params["review_id"], str(form.get("label", "")), str(form.get("note", ""))
        if not note.strip():
            return _page("error.html", 422, message="give the reason for your decision", identity=identity)
        try:
            version = int(str(form.get("version", "-1")))
        except ValueError:
            return _page("error.html", 422, message="the form lost its version: open the case again")
        if label not in self.runtime().contract.classes:
            return _page("error.html", 422, message="choose one of the classes", identity=identity)
        try:
            self.runtime().queue.resolve(review_id, label=label, reviewer=identity, version=version, note=note)
        except (ReviewConflict, Forbidden) as exc:  # e.g. decided by someone else while it was open
            return self._overtaken_page(identity, review_id, version, exc)
        except ReviewNotFound as exc:
            return _page("error.html", 404, message=str(exc), identity=identity)
        except ReviewStoreUnavailable as exc:
            return _page("error.html", 503, message=str(exc), identity=identity)
        return RedirectResponse(f"/ui/?decided={review_id}", status_code=303)

    # -- the dev issuer's login (exists only when the server trusts the kit's local issuer) ----------------
    async def login(self, request: Request) -> Response:
        if not self.runtime().dev_login:
            return _page("error.html", 404, message="sign in through your organisation's login")
        if request.method == "GET":
            return _page("login.html", roles=LOGIN_ROLES)
        if not same_origin(request.headers):
            return _page("error.html", 403, message="this form is not from this page")
        form = await request.form()
        if form.get("token"):
            return self._sign_in_with(str(form["token"]).strip(), request)
        subject, role = str(form.get("subject", "")).strip(), str(form.get("role", ""))
        if not subject or role not in LOGIN_ROLES:
            return _page("login.html", 422, roles=LOGIN_ROLES, message="give a name and a role")
        from slipway.identity.dev_issuer import DevIssuer
        from slipway.identity.settings import dev_issuer_dir

        return _signed_in(DevIssuer(dev_issuer_dir()).mint(subject, [role], ttl=SESSION_SECONDS), request)

    def _sign_in_with(self, token: str, request: Request) -> Response:
        """A ready token (the demo's sign-in link carries one in its #fragment, which no server or
        proxy log sees): verified exactly as a bearer token, then kept in the HttpOnly cookie."""
        identity, refusal = self._verified({"authorization": f"Bearer {token}"}, "")
        if refusal is not None:
            return _page("login.html", refusal[0], roles=LOGIN_ROLES, message=refusal[1]["error"])
        assert identity is not None
        return _signed_in(token, request)

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/ui/login" if self.runtime().dev_login else "/ui/", status_code=303)
        response.delete_cookie(COOKIE, path="/ui")
        return response


def _signed_in(token: str, request: Request) -> Response:
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/ui",
                        secure=request.url.scheme == "https", max_age=SESSION_SECONDS)  # fmt: skip
    return response


def _typical_ranges(card: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Per number: the middle 95 % of the training values (the card's reference sample)."""
    import numpy as np

    sample = (card.get("drift") or {}).get("sample") or {}
    return {name: (float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975)))
            for name, values in sample.items() if values}  # fmt: skip


def review_pages(runtime: Callable[[], Any]) -> Starlette:
    pages = Pages(runtime)
    return Starlette(routes=[
        Route("/", pages.queue),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/audit", pages.audit),
        Route("/case/{review_id:str}", pages.case),
        Route("/case/{review_id:str}/state", pages.state),
        Route("/next", pages.next_case, methods=["POST"]),
        Route("/case/{review_id:str}/claim", pages.claim, methods=["POST"]),
        Route("/case/{review_id:str}/skip", pages.skip, methods=["POST"]),
        Route("/case/{review_id:str}/decide", pages.decide, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ])  # fmt: skip
