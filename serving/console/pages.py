"""The reviewers' console: server-rendered pages over the same operations as the API.

Sign in with an API key (the session cookie then names it); the queue of each kind the role may
work, an item page (listing, scores, reasons, rules, clause, seller standing, history) with
decide / escalate / hold / release forms and keyboard shortcuts, the appeals page with overturn
rates, and seller pages. Jinja2 escapes every value, and the Content-Security-Policy admits only
the app's own script and style, so a listing's text cannot run in a reviewer's browser.
"""

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.api_errors import ApiError
from serving.api_queue import is_blind, may_read, shown, shown_history
from serving.appeals import overturn_rates
from serving.audit_log import log_action
from serving.auth import Caller, check_permission
from serving.console.sessions import COOKIE, ConsoleSessions
from serving.console.templating import render
from serving.deps import ServiceState
from serving.errors import ServingError
from serving.review_actions import claim_next, decide, escalate, hold, release
from serving.review_queue import DISGUISED_KINDS, get_item, item_history, list_items
from serving.roles import KIND_PERMISSION
from serving.seller_health import seller_standing
from serving.tables import WORK_ITEM_KINDS, WORK_ITEM_STATUSES, utc_now

router = APIRouter(prefix="/console", include_in_schema=False)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Page = Callable[[Request, ServiceState, Caller], Awaitable[Response]]
CONSOLE_PERMISSIONS: Final = ("review", "qa")
"""A key needs one of these to sign in: pipelines have no console."""
MAX_HOLD_HOURS: Final = 720.0


def render_page(name: str, code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, **context), status_code=code, headers=SECURITY_HEADERS)


def _sessions(request: Request) -> ConsoleSessions:
    sessions: ConsoleSessions = request.app.state.service.console_sessions
    return sessions


async def _signed_in(request: Request) -> Caller | None:
    state: ServiceState = request.app.state.service
    key_id = _sessions(request).key_id(request.cookies.get(COOKIE), time.time())
    if key_id is None:
        return None
    try:
        return await state.authenticator.session_caller(key_id)
    except ApiError:
        return None


def page_context(request: Request, caller: Caller, **extra: Any) -> dict[str, Any]:
    cookie = request.cookies.get(COOKIE, "")
    kinds = [
        kind
        for kind in WORK_ITEM_KINDS
        if caller.may(KIND_PERMISSION[kind]) and (kind not in DISGUISED_KINDS or caller.may("qa"))
    ]
    return {"caller": caller, "csrf": _sessions(request).csrf(cookie), "kinds": kinds, **extra}


@router.get("/login")
async def login_page(request: Request, error: str = "") -> HTMLResponse:
    token = _sessions(request).login_token(time.time())
    return render_page("login.html", 401 if error else 200, token=token, error=error)


@router.post("/login")
async def sign_in(request: Request, key: str = Form(""), token: str = Form("")) -> Response:
    state: ServiceState = request.app.state.service
    sessions = _sessions(request)
    if not sessions.login_token_ok(token, time.time()):
        return await login_page(request, error="The sign-in form expired; try again.")
    try:
        caller = await state.authenticator.caller(key.strip())
    except ApiError as error:
        return await login_page(request, error=error.body.message)
    if not any(caller.may(permission) for permission in CONSOLE_PERMISSIONS):
        return await login_page(request, error=f"a {caller.role} key has no console pages")
    await state.database.run(
        log_action, state.session_factory, "console.sign_in", actor=caller.name, role=caller.role,
        target=caller.key_id,
    )  # fmt: skip
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(
        COOKIE,
        sessions.issue(caller.key_id, time.time()),
        max_age=int(sessions.max_age_s),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )
    return response


def console_page(handler: Page) -> Callable[..., Awaitable[Response]]:
    """A page for signed-in callers; others are sent to the sign-in page."""

    async def page(request: Request) -> Response:
        caller = await _signed_in(request)
        if caller is None:
            return RedirectResponse("/console/login", status_code=303)
        state: ServiceState = request.app.state.service
        try:
            return await handler(request, state, caller)
        except (ServingError, ApiError) as error:
            status = error.status if isinstance(error, ApiError) else 409
            message = error.body.message if isinstance(error, ApiError) else str(error)
            return render_page(
                "error.html", status, **page_context(request, caller, message=message)
            )

    return page


async def _form_checked(request: Request) -> dict[str, str]:
    """The posted form, after its CSRF token was checked against the session."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    if not _sessions(request).csrf_ok(request.cookies.get(COOKIE), form.get("csrf", "")):
        raise ApiError(403, "csrf", "the form's CSRF token does not match this session")
    for name, value in form.items():
        if "\x00" in value:
            raise ApiError(422, "invalid_form", f"{name} must not contain NUL characters")
    return form


def _hours(raw: str) -> float:
    try:
        hours = float(raw)
    except ValueError:
        raise ApiError(422, "invalid_form", f"hours = {raw[:20]!r} is not a number") from None
    if not 1 / 60 <= hours <= MAX_HOLD_HOURS:  # also false for nan
        raise ApiError(422, "invalid_form", f"hours must be between 1/60 and {MAX_HOLD_HOURS:g}")
    return hours


async def _queue(request: Request, state: ServiceState, caller: Caller) -> Response:
    kind = request.query_params.get("kind", "review")
    status = request.query_params.get("status", "open")
    kind = kind if kind in WORK_ITEM_KINDS else "review"
    status = status if status in WORK_ITEM_STATUSES else "open"
    check_permission(caller, KIND_PERMISSION[kind])
    items = await state.database.run(
        list_items, state.session_factory, kind=kind, status=status, limit=100
    )
    notice = request.query_params.get("notice", "")[:200]
    context = page_context(request, caller, items=items, kind=kind, status=status, notice=notice)
    return render_page("queue.html", statuses=WORK_ITEM_STATUSES, now=utc_now(), **context)


async def _item(request: Request, state: ServiceState, caller: Caller) -> Response:
    item_id = request.path_params["item_id"]
    item = await state.database.run(get_item, state.session_factory, item_id)
    if item is None or not may_read(item, caller):
        return render_page(
            "error.html", 404, **page_context(request, caller, message="No such item.")
        )
    if item.kind not in DISGUISED_KINDS:
        check_permission(caller, KIND_PERMISSION[item.kind])
    history = shown_history(
        item, caller, await state.database.run(item_history, state.session_factory, item_id)
    )
    item = shown(item, caller)
    standing = None
    if not is_blind(item) and item.seller_id is not None:
        standing = await state.database.run(
            seller_standing, state.session_factory, item.seller_id, state.policy.review.strikes
        )
    codes = state.policy.review.reason_codes
    context = page_context(request, caller, item=item, history=history, standing=standing)
    return render_page(
        "item.html",
        codes=codes,
        first_code={
            a: next(n for n, c in codes.items() if c.action == a) for a in ("allow", "block")
        },
        mine=item.status == "claimed" and item.claimed_by == caller.name,
        blind=is_blind(item),
        labels=list(item.scores),
        **context,
    )


async def _claim(request: Request, state: ServiceState, caller: Caller) -> Response:
    form = await _form_checked(request)
    kind = form.get("kind", "review")
    if kind not in WORK_ITEM_KINDS or not caller.may(KIND_PERMISSION[kind]):
        raise ApiError(403, "forbidden", f"role {caller.role} may not work the {kind} queue")
    item = await state.database.run(
        claim_next, state.session_factory, caller.name, kind=kind,
        lease_seconds=state.settings.review_lease_seconds, review=state.policy.review,
    )  # fmt: skip
    if item is None:
        return RedirectResponse(f"/console?kind={kind}&notice=Nothing+to+claim", status_code=303)
    return RedirectResponse(f"/console/items/{item.id}", status_code=303)


async def _act(request: Request, state: ServiceState, caller: Caller) -> Response:
    form = await _form_checked(request)
    item_id, action = request.path_params["item_id"], request.path_params["action"]
    run, factory, review = state.database.run, state.session_factory, state.policy.review
    if action == "decide":
        violations = None
        if form.get("kind") == "qa":
            audited = await run(get_item, factory, item_id)
            labels = list(audited.scores) if audited else []
            violations = {label: form.get(f"violated_{label}") == "yes" for label in labels}
        done = await run(
            decide, factory, item_id, caller.name, action=form.get("decision", ""),
            reason_code=form.get("reason_code", ""), review=review,
            policy_clause=form.get("policy_clause") or None, note=form.get("note", ""),
            violations=violations,
        )  # fmt: skip
        notice = f"Decided {done.title[:60]}: {done.human_action}"
    elif action == "escalate":
        await run(escalate, factory, item_id, caller.name, reason=form.get("reason", ""),
                  review=review)  # fmt: skip
        notice = "Escalated to the senior queue"
    elif action == "hold":
        until = utc_now() + timedelta(hours=_hours(form.get("hours", "")))
        await run(hold, factory, item_id, caller.name, reason=form.get("reason", ""), until=until)
        notice = "Held"
    elif action == "release":
        await run(release, factory, item_id, caller.name, reason=form.get("reason", ""))
        notice = "Released to the queue"
    else:
        raise ApiError(404, "not_found", f"no console action {action!r}")
    kind = form.get("kind", "review")
    return RedirectResponse(f"/console?kind={kind}&notice={notice}", status_code=303)


async def _seller(request: Request, state: ServiceState, caller: Caller) -> Response:
    check_permission(caller, "review")
    seller_id = request.path_params["seller_id"]
    rules = state.policy.review.strikes
    standing = await state.database.run(seller_standing, state.session_factory, seller_id, rules)
    context = page_context(request, caller, standing=standing, now=utc_now())
    return render_page("seller.html", forced=rules.forces_review(standing.points), **context)


async def _appeals(request: Request, state: ServiceState, caller: Caller) -> Response:
    check_permission(caller, "review")
    items = await state.database.run(
        list_items, state.session_factory, kind="appeal", status="open", limit=100
    )
    rates = await state.database.run(overturn_rates, state.session_factory, "reviewer")
    context = page_context(request, caller, items=items, rates=rates)
    return render_page("appeals.html", now=utc_now(), **context)


async def _sign_out(request: Request, state: ServiceState, caller: Caller) -> Response:
    await _form_checked(request)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


router.add_api_route("", console_page(_queue), methods=["GET"])
router.add_api_route("/items/{item_id}", console_page(_item), methods=["GET"])
router.add_api_route("/claim", console_page(_claim), methods=["POST"])
router.add_api_route("/items/{item_id}/{action}", console_page(_act), methods=["POST"])
router.add_api_route("/sellers/{seller_id}", console_page(_seller), methods=["GET"])
router.add_api_route("/appeals", console_page(_appeals), methods=["GET"])
router.add_api_route("/logout", console_page(_sign_out), methods=["POST"])
