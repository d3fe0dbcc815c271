"""The moderators' web pages under /moderate: log in, dashboard, queue, one comment, API tokens.

Server-rendered and usable without JavaScript: every action is a plain form POST carrying the
session's CSRF token, answered with a 303 back to where the moderator was and a one-time flash
message. The session lives in an HttpOnly, SameSite=Strict cookie scoped to /moderate.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData, QueryParams

from moderation.api.routing import include
from moderation.client_ip import Network, client_ip
from moderation.domain import CommentStatus, ModerationAction, ReasonCode
from moderation.live_model import LiveModel
from moderation.login_guard import LoginDecision, LoginLimits, decide, ip_key, name_key
from moderation.queue import MAX_BULK, MAX_TEXT_FILTER, QueueFilter, QueueSort, undo_stack
from moderation.ratelimit import Decision, Hit, Limiter, RateLimits
from moderation.settings import Settings
from moderation.store import NotFoundError, Store, StoreError
from moderation.store_accounts import AccountInputError, Accounts, Moderator
from moderation.store_login import LoginFailures
from moderation.store_queue import ActionResult, QueueStore
from moderation.web import views
from moderation.web.security import (
    PREFIX,
    Flash,
    open_flash,
    safe_fragment,
    safe_next,
    same_token,
    seal_flash,
)
from moderation.web.templating import STATIC_FILES, render, static_bytes

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SESSION_COOKIE = "moderation_session"
LOGIN_COOKIE = "moderation_login"
FLASH_COOKIE = "moderation_flash"
LOGIN_COOKIE_SECONDS = 3600
FLASH_COOKIE_SECONDS = 60
PAGE_SIZE = 50
DASHBOARD_DAYS = 30
WRONG_LOGIN = "The name or password is wrong."
LOCKED_OUT = "Too many failed logins. Wait a few minutes, then try again."
TOO_MANY_ATTEMPTS = "Too many login attempts from your address. Wait {seconds} s, then try again."
NOTE_MAX = 1000
QUEUE_URL = f"{PREFIX}/queue"
LOGIN_URL = f"{PREFIX}/login"
# The actions a moderator can take on comments from the page (undo has its own route).
_ACTIONS = tuple(a for a in ModerationAction if a is not ModerationAction.UNDO)
_DONE: dict[ModerationAction, str] = {
    ModerationAction.APPROVE: "Approved {n}.",
    ModerationAction.SPAM: "Marked {n} as spam.",
    ModerationAction.HAM: "Marked {n} as not spam.",
    ModerationAction.TRASH: "Moved {n} to the trash.",
    ModerationAction.DELETE: "Deleted {n} forever.",
}
SORT_NAMES = {
    QueueSort.PROBABILITY: "Most likely spam first",
    QueueSort.NEWEST: "Newest first",
    QueueSort.OLDEST: "Oldest first",
}
T = TypeVar("T")


class PageError(Exception):
    """A request the pages answer with an error page (or, with `location`, a redirect)."""

    def __init__(
        self, status: int, title: str, message: str = "", *, location: str | None = None
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message
        self.location = location


@dataclass(frozen=True, slots=True)
class WebSession:
    """The logged-in moderator of a request, the session's id and its CSRF token."""

    moderator: Moderator
    session_id: str
    csrf: str


# Dependencies


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _queue(request: Request) -> QueueStore:
    queue: QueueStore | None = getattr(request.app.state, "queue", None)
    if queue is None:
        store: Store = request.app.state.store
        queue = QueueStore(store)
    return queue


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _login_redirect(request: Request) -> PageError:
    target = _here(request) if request.method in ("GET", "HEAD") else PREFIX
    return PageError(303, "Log in", location=f"{LOGIN_URL}?{urlencode({'next': target})}")


def _stored(call: Callable[[], T]) -> T:
    """Run a store call; NotFoundError becomes a 404 page, other storage failures a 503 page."""
    try:
        return call()
    except NotFoundError as exc:
        raise PageError(
            404, "Not found", "There is no such comment, or it is not yours to see."
        ) from exc
    except StoreError as exc:
        raise PageError(
            503, "Storage is unavailable", "Nothing was changed. Try again in a moment."
        ) from exc


def current_session(request: Request) -> WebSession:
    """The session of the request's cookie; a redirect to the login page when there is none."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    found = _stored(lambda: _accounts(request).session(session_id)) if session_id else None
    if found is None:
        raise _login_redirect(request)
    moderator, csrf = found
    return WebSession(moderator, session_id, csrf)


SessionDep = Annotated[WebSession, Depends(current_session)]


async def _form(request: Request, session: WebSession) -> FormData:
    """The posted form, once its CSRF token is the session's; a 403 page otherwise."""
    try:
        form = await request.form()
    except Exception as exc:  # a malformed body is refused like a missing token: nothing done
        raise _csrf_refused() from exc
    token = form.get("csrf")
    if not isinstance(token, str) or not same_token(token, session.csrf):
        raise _csrf_refused()
    return form


def _csrf_refused() -> PageError:
    return PageError(
        403,
        "This form has expired",
        "The form did not carry this session's security token, so nothing was changed. "
        "Go back, reload the page and try again.",
    )


def _text(form: FormData | QueryParams, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _list(form: FormData | QueryParams, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v]


# Rendering


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "path": PREFIX,
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https" or _settings(request).secure_cookies,
    }


def _page(
    request: Request,
    template: str,
    session: WebSession | None,
    *,
    page: str,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A rendered page; a pending flash message is shown on it and cleared."""
    flash = None
    raw_flash = request.cookies.get(FLASH_COOKIE)
    if session is not None and raw_flash:
        flash = open_flash(raw_flash, session.csrf)
    values: dict[str, Any] = {
        "me": session.moderator if session else None,
        "csrf": session.csrf if session else "",
        "flash": flash,
        "here": _here(request),
        "page": page,
    }
    values.update(context)
    response = HTMLResponse(render(template, values), status_code=status)
    if raw_flash:
        response.delete_cookie(FLASH_COOKIE, **_cookie_flags(request))
    return response


def _redirect(
    request: Request, location: str, *, flash: Flash | None = None, key: str = ""
) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    if flash is not None and key:
        response.set_cookie(
            FLASH_COOKIE,
            seal_flash(flash, key),
            max_age=FLASH_COOKIE_SECONDS,
            **_cookie_flags(request),
        )
    return response


def _error_page(request: Request, exc: PageError) -> Response:
    if exc.location is not None:
        return RedirectResponse(exc.location, status_code=exc.status)
    link, link_text = (PREFIX, "Back to the dashboard")
    if exc.status == 403:
        link, link_text = (QUEUE_URL, "Back to the queue")
    body = render(
        "error.html",
        {
            "me": None,
            "csrf": "",
            "flash": None,
            "here": _here(request),
            "page": "error",
            "title": exc.title,
            "message": exc.message,
            "link": link,
            "link_text": link_text,
        },
    )
    headers = {"Retry-After": "5"} if exc.status == 503 else None
    return HTMLResponse(body, status_code=exc.status, headers=headers)


def install(app: FastAPI) -> None:
    """Add the pages to the app: their routes and their error pages (headers: SecurityHeaders)."""
    include(app, router)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return _error_page(request, exc)


# Static files


@router.get("/static/{name}")
def static(name: str) -> Response:
    """moderate.css and moderate.js; their URLs carry a content hash, so caches may keep them."""
    if name not in STATIC_FILES:
        raise PageError(404, "Not found", "There is no such file.")
    return Response(
        static_bytes(name),
        media_type=STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )


# Logging in and out


def _login_page(
    request: Request,
    *,
    token: str,
    next_url: str,
    status: int = 200,
    message: str = "",
    error: bool = False,
    name: str = "",
) -> HTMLResponse:
    response = _page(
        request,
        "login.html",
        None,
        page="login",
        status=status,
        login_token=token,
        next=next_url,
        message=message,
        error=error,
        name=name,
    )
    response.set_cookie(LOGIN_COOKIE, token, max_age=LOGIN_COOKIE_SECONDS, **_cookie_flags(request))
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    """The login form; a logged-in moderator goes straight on to `next`."""
    next_url = safe_next(request.query_params.get("next"))
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id and _stored(lambda: _accounts(request).session(session_id)):
        return RedirectResponse(next_url, status_code=303)
    # The login form is protected by double submit: the same random value in a SameSite=Strict
    # cookie and in the form. Another site can make a browser post the form, not read the value.
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    message = "You have logged out." if request.query_params.get("out") else ""
    return _login_page(request, token=token[:100], next_url=next_url, message=message)


def request_ip(request: Request) -> str:
    """The client's address: the socket peer, or behind a trusted proxy the hop it saw."""
    trusted: tuple[Network, ...] = getattr(request.app.state, "trusted_networks", ())
    peer = request.client.host if request.client else None
    return client_ip(peer, request.headers.getlist("x-forwarded-for"), trusted)


def _login_limits(request: Request) -> LoginLimits:
    limits: LoginLimits = getattr(request.app.state, "login_limits", None) or LoginLimits()
    return limits


def _login_failures(request: Request) -> LoginFailures:
    failures: LoginFailures | None = getattr(request.app.state, "login_failures", None)
    return failures or LoginFailures(request.app.state.store)


async def _login_rate(request: Request) -> Decision | None:
    """The address's login rate limit, counting this attempt; None when there is none."""
    limiter: Limiter | None = getattr(request.app.state, "rate_limiter", None)
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limiter is None or limits is None or not limits.login_per_ip.enabled:
        return None
    return await limiter.hit(Hit("login-ip", ip_key(request_ip(request)), limits.login_per_ip))


def _login_check(failures: LoginFailures, key: str, ip: str, limits: LoginLimits) -> LoginDecision:
    now = datetime.now(UTC)
    by_name, by_ip = failures.tally(key, ip, since=now - limits.window)
    return decide(by_name, by_ip, now=now, limits=limits)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the name and password; on success start a session and go on to `next`."""
    form = await request.form()
    next_url = safe_next(_text(form, "next"))
    name = _text(form, "name", 200)
    password = form.get("password")
    submitted = form.get("csrf")
    expected = request.cookies.get(LOGIN_COOKIE, "")
    fresh = secrets.token_urlsafe(32)
    if not isinstance(submitted, str) or not same_token(submitted, expected):
        return _login_page(
            request,
            token=fresh,
            next_url=next_url,
            status=403,
            message="The login form had expired. Please log in again.",
            error=True,
            name=name,
        )
    accounts = _accounts(request)
    # Failures are counted in the database, so that every instance sees the same lockout; a
    # locked-out login is refused before the password is hashed (64 MiB and ~0.1 s each).
    failures, limits = _login_failures(request), _login_limits(request)
    key, ip = name_key(name), ip_key(request_ip(request))
    decision = await run_in_threadpool(_stored, lambda: _login_check(failures, key, ip, limits))
    if not decision.allowed:
        locked = _login_page(
            request,
            token=fresh,
            next_url=next_url,
            status=429,
            message=LOCKED_OUT,
            error=True,
            name=name,
        )
        locked.headers["Retry-After"] = str(decision.retry_after)
        return locked
    # After the lockout (whose answer wins, and whose refusals cost no attempt), before the
    # password is hashed: every attempt that would hash counts, right or wrong.
    rate = await _login_rate(request)
    if rate is not None and not rate.allowed:
        limited = _login_page(
            request,
            token=fresh,
            next_url=next_url,
            status=429,
            message=TOO_MANY_ATTEMPTS.format(seconds=rate.retry_after),
            error=True,
            name=name,
        )
        limited.headers["Retry-After"] = str(rate.retry_after)
        return limited
    moderator = None
    if isinstance(password, str) and name:
        moderator = await run_in_threadpool(_stored, lambda: accounts.authenticate(name, password))
    if moderator is None:
        now = datetime.now(UTC)
        await run_in_threadpool(
            _stored,
            lambda: failures.record(key, ip, now=now, forget_before=now - limits.window),
        )
        return _login_page(
            request,
            token=fresh,
            next_url=next_url,
            status=401,
            message=WRONG_LOGIN,
            error=True,
            name=name,
        )
    ttl = timedelta(hours=_settings(request).session_hours)
    try:
        session_id, _ = await run_in_threadpool(
            _stored, lambda: accounts.create_session(moderator.id, ttl=ttl)
        )
    except AccountInputError:  # disabled between the check and now
        return _login_page(
            request, token=fresh, next_url=next_url, status=401, message=WRONG_LOGIN, error=True
        )
    await run_in_threadpool(_stored, lambda: failures.clear(key))
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await run_in_threadpool(_stored, lambda: accounts.end_session(old))
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=int(ttl.total_seconds()), **_cookie_flags(request)
    )
    response.delete_cookie(LOGIN_COOKIE, **_cookie_flags(request))
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """End the session and go back to the login page."""
    await _form(request, session)
    await run_in_threadpool(_stored, lambda: _accounts(request).end_session(session.session_id))
    response = RedirectResponse(f"{LOGIN_URL}?out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request))
    response.delete_cookie(FLASH_COOKIE, **_cookie_flags(request))
    return response


# The dashboard


@dataclass(frozen=True, slots=True)
class SiteWaiting:
    """One site's row on the dashboard."""

    site: str
    pending: int
    spam: int
    url: str


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """What the dashboard shows of the live model."""

    version: str
    trained_at: str
    examples: str
    metrics: tuple[tuple[str, str], ...] = field(default=())


_METRICS = (
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
    ("accuracy", "Accuracy"),
)


def model_summary(version: str, metadata: dict[str, Any]) -> ModelSummary:
    """The live model's version, training date, size and cross-validated scores, as text."""
    scores = metadata.get("cross_validation")
    metrics: list[tuple[str, str]] = []
    if isinstance(scores, dict):
        for key, label in _METRICS:
            value = scores.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics.append((label, f"{value:.3f}"))
        folds, held_out = scores.get("folds"), scores.get("held_out")
        if metrics and isinstance(folds, int):
            metrics.append(("Measured by", f"{folds}-fold cross-validation"))
        elif metrics and isinstance(held_out, int):
            metrics.append(("Measured by", f"{held_out:,} held-out examples"))
    thresholds = metadata.get("thresholds")
    if isinstance(thresholds, dict):
        ham, spam = thresholds.get("ham_threshold"), thresholds.get("spam_threshold")
        if isinstance(ham, int | float) and isinstance(spam, int | float):
            metrics.append(("Suggested bands", f"not spam below {ham:g}, spam from {spam:g}"))
    created = metadata.get("created_at")
    trained_at = ""
    if isinstance(created, str):
        try:
            trained_at = views.when(datetime.fromisoformat(created))
        except ValueError:
            trained_at = created
    examples = metadata.get("n_examples")
    return ModelSummary(
        version=version,
        trained_at=trained_at,
        examples=str(examples) if isinstance(examples, int) else "",
        metrics=tuple(metrics),
    )


def _visible_sites(request: Request, moderator: Moderator) -> list[str]:
    store: Store = request.app.state.store
    sites = _stored(store.list_sites)
    return [site.name for site, _ in sites if moderator.can_see(site.id)]


@router.get("")
def dashboard(request: Request, session: SessionDep) -> Response:
    """Pending and spam per site, the last 30 days as a chart, the live model and its scores."""
    me = session.moderator
    board = _stored(
        lambda: _queue(request).dashboard(me, now=datetime.now(UTC), days=DASHBOARD_DAYS)
    )
    names = sorted(set(_visible_sites(request, me)) | set(board.pending_by_site))
    waiting = [
        SiteWaiting(
            site=name,
            pending=board.pending_by_site.get(name, 0),
            spam=board.spam_by_site.get(name, 0),
            url=f"{QUEUE_URL}?{urlencode({'site': name})}",
        )
        for name in names
    ]
    labels = [day.day.isoformat() for day in board.days]
    chart = views.bar_chart(
        labels,
        [
            views.Series("spam caught", "bar-spam", tuple(d.spam_caught for d in board.days)),
            views.Series("false positives", "bar-fp", tuple(d.false_positives for d in board.days)),
        ],
    )
    totals = {
        "spam_caught": sum(d.spam_caught for d in board.days),
        "false_positives": sum(d.false_positives for d in board.days),
        "missed_spam": sum(d.missed_spam for d in board.days),
    }
    live: LiveModel = request.app.state.model
    current = live.current
    return _page(
        request,
        "dashboard.html",
        session,
        page="dashboard",
        waiting=waiting,
        days=board.days,
        chart=chart,
        totals=totals,
        model=model_summary(current.version, current.metadata),
    )


# The queue


@dataclass(frozen=True, slots=True)
class FilterForm:
    """The filter form's fields as the moderator typed them, to fill the form again."""

    statuses: tuple[str, ...]
    site: str = ""
    reason: str = ""
    post: str = ""
    email: str = ""
    ip: str = ""
    since: str = ""
    until: str = ""
    q: str = ""
    sort: str = QueueSort.PROBABILITY.value


_DEFAULT_STATUSES = (CommentStatus.PENDING, CommentStatus.SPAM)


def _day(value: str, name: str, problems: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{name}: give a date as YYYY-MM-DD")
        return None


def parse_filters(query: QueryParams) -> tuple[QueueFilter, QueueSort, FilterForm, list[str]]:
    """The filter, sort and form values a queue URL asks for, and what was wrong in it."""
    problems: list[str] = []
    statuses: list[CommentStatus] = []
    for value in _list(query, "status"):
        try:
            statuses.append(CommentStatus(value))
        except ValueError:
            problems.append(f"status: no status named {value!r}")
    chosen = tuple(dict.fromkeys(statuses)) or _DEFAULT_STATUSES
    reason: ReasonCode | None = None
    reason_text = _text(query, "reason", 100)
    if reason_text:
        try:
            reason = ReasonCode(reason_text)
        except ValueError:
            problems.append(f"reason: no reason code {reason_text!r}")
    sort_text = _text(query, "sort", 50) or QueueSort.PROBABILITY.value
    try:
        sort = QueueSort(sort_text)
    except ValueError:
        problems.append(f"sort: one of {', '.join(s.value for s in QueueSort)}")
        sort = QueueSort.PROBABILITY
    since_text, until_text = _text(query, "since", 20), _text(query, "until", 20)
    since_day = _day(since_text, "from", problems)
    until_day = _day(until_text, "to", problems)
    if since_day and until_day and until_day < since_day:
        problems.append("to: the last day comes before the first")
    form = FilterForm(
        statuses=tuple(s.value for s in chosen),
        site=_text(query, "site", 200),
        reason=reason_text,
        post=_text(query, "post", 2000),
        email=_text(query, "email", 500),
        ip=_text(query, "ip", 100),
        since=since_text,
        until=until_text,
        q=_text(query, "q", MAX_TEXT_FILTER),
        sort=sort.value,
    )
    filters = QueueFilter(
        statuses=chosen,
        site=form.site or None,
        post_id=form.post or None,
        reason=reason,
        author_email=form.email or None,
        user_ip=form.ip or None,
        since=datetime.combine(since_day, time(), tzinfo=UTC) if since_day else None,
        # "To" includes that whole day.
        until=(
            datetime.combine(until_day + timedelta(days=1), time(), tzinfo=UTC)
            if until_day
            else None
        ),
        text=form.q or None,
    )
    return filters, sort, form, problems


def _queue_url(query: QueryParams, **changes: str | Sequence[str] | None) -> str:
    """The queue URL with these parameters replaced (None removes one); the cursor is dropped."""
    params: dict[str, list[str]] = {}
    for key, value in query.multi_items():
        if key != "cursor":
            params.setdefault(key, []).append(value)
    for key, change in changes.items():
        if change is None:
            params.pop(key, None)
        elif isinstance(change, str):
            params[key] = [change]
        else:
            params[key] = list(change)
    pairs = [(key, value) for key, values in params.items() for value in values if value]
    return QUEUE_URL + (f"?{urlencode(pairs)}" if pairs else "")


@router.get("/queue")
def queue_page(request: Request, session: SessionDep) -> Response:
    """The queue: the filter form, counts, a page of comments with their actions."""
    me = session.moderator
    query = request.query_params
    filters, sort, form, problems = parse_filters(query)
    queue = _queue(request)
    items: tuple[Any, ...] = ()
    next_url = None
    counts = None
    if not problems:
        cursor = _text(query, "cursor", 1000) or None
        try:
            listing = _stored(
                lambda: queue.list(me, filters, sort=sort, cursor=cursor, limit=PAGE_SIZE)
            )
        except ValueError as exc:
            problems.append(str(exc))
        else:
            items = listing.items
            counts = _stored(lambda: queue.counts(me, filters))
            if listing.next_cursor:
                next_url = _queue_url(query) + (
                    ("&" if "?" in _queue_url(query) else "?")
                    + urlencode({"cursor": listing.next_cursor})
                )
    status_links = []
    reason_links = []
    if counts is not None:
        status_links = [
            (status, n, _queue_url(query, status=status)) for status, n in counts.by_status.items()
        ]
        reason_links = [
            (code, n, _queue_url(query, reason=code))
            for code, n in sorted(counts.by_reason.items(), key=lambda kv: -kv[1])
        ]
    filtered = any(
        (form.site, form.reason, form.post, form.email, form.ip, form.since, form.until, form.q)
    ) or set(form.statuses) != {s.value for s in _DEFAULT_STATUSES}
    return _page(
        request,
        "queue.html",
        session,
        page="queue",
        status=400 if problems else 200,
        form=form,
        problems=problems,
        filtered=filtered,
        items=items,
        counts=counts,
        status_links=status_links,
        reason_links=reason_links,
        next_url=next_url,
        sites=_visible_sites(request, me),
        all_statuses=[s.value for s in CommentStatus],
        reasons=[c.value for c in ReasonCode],
        sorts=[s.value for s in QueueSort],
        sort_names={s.value: name for s, name in SORT_NAMES.items()},
    )


def _count(n: int) -> str:
    return f"{n} comment" if n == 1 else f"{n} comments"


def _outcome(action: ModerationAction | None, results: Sequence[ActionResult]) -> Flash:
    """The flash message after an action (None: undo) on these comments."""
    done = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    parts = []
    if done:
        if action is None:
            parts.append(f"Undid the last action on {_count(len(done))}.")
        else:
            parts.append(_DONE[action].format(n=_count(len(done))))
    if failed:
        why = sorted({r.message or r.error or "failed" for r in failed})
        parts.append(f"{_count(len(failed))} could not be changed: {'; '.join(why)}.")
    undo: tuple[str, ...] = ()
    if action is not None and action is not ModerationAction.DELETE:
        undo = tuple(r.id for r in done)
    return Flash(" ".join(parts) or "Nothing was changed.", undo, error=bool(failed))


def _action(value: str) -> ModerationAction:
    try:
        action = ModerationAction(value)
    except ValueError:
        action = ModerationAction.UNDO
    if action not in _ACTIONS:
        raise PageError(400, "Unknown action", f"Choose one of: {', '.join(_ACTIONS)}.")
    return action


def _back(form: FormData, default: str = QUEUE_URL) -> str:
    return safe_next(_text(form, "back"), default)


@router.post("/queue/actions")
async def bulk_action(request: Request, session: SessionDep) -> Response:
    """Apply one action to the selected comments; back to the queue with a flash message."""
    form = await _form(request, session)
    back = _back(form)
    action = _action(_text(form, "action", 20))
    ids = list(dict.fromkeys(_list(form, "ids")))
    if not ids:
        flash = Flash("Select at least one comment first.", error=True)
        return _redirect(request, back, flash=flash, key=session.csrf)
    if len(ids) > MAX_BULK:
        raise PageError(400, "Too many comments", f"Select at most {MAX_BULK} at once.")
    me = session.moderator
    results = await run_in_threadpool(_stored, lambda: _queue(request).act(me, ids, action))
    return _redirect(request, back, flash=_outcome(action, results), key=session.csrf)


@router.post("/queue/undo")
async def bulk_undo(request: Request, session: SessionDep) -> Response:
    """Undo the last action on each of these comments (the flash message's Undo button)."""
    form = await _form(request, session)
    back = _back(form)
    ids = list(dict.fromkeys(_list(form, "ids")))[:MAX_BULK]
    me = session.moderator
    queue = _queue(request)

    def undo_all() -> list[ActionResult]:
        return [queue.undo(me, comment_id) for comment_id in ids]

    results = await run_in_threadpool(_stored, undo_all)
    fragment = safe_fragment(ids[0]) if len(ids) == 1 else ""
    return _redirect(request, back + fragment, flash=_outcome(None, results), key=session.csrf)


@router.get("/comments/{comment_id}")
def comment_page(request: Request, session: SessionDep, comment_id: str) -> Response:
    """One comment in full: text, author, verdict and why, history, the author's other comments."""
    me = session.moderator
    detail = _stored(lambda: _queue(request).item(me, comment_id))
    item = detail.item
    every_status = [s.value for s in CommentStatus]

    def everywhere(**criteria: str) -> str:
        return f"{QUEUE_URL}?{urlencode({**criteria, 'status': every_status}, doseq=True)}"

    can_undo = bool(undo_stack([(event.id, event.action) for event in detail.history]))
    return _page(
        request,
        "item.html",
        session,
        page="item",
        item=item,
        history=detail.history,
        author=detail.author,
        can_undo=can_undo,
        queue_url=QUEUE_URL,
        email_url=everywhere(email=item.author_email),
        ip_url=everywhere(ip=item.user_ip),
    )


def _one_result(results: Sequence[ActionResult]) -> ActionResult:
    (result,) = results
    if not result.ok and result.error == "not_found":
        raise PageError(404, "Not found", "There is no such comment, or it is not yours to see.")
    return result


@router.post("/comments/{comment_id}/action")
async def comment_action(request: Request, session: SessionDep, comment_id: str) -> Response:
    """Act on one comment; back to the queue (on the next comment) or to the comment's page."""
    form = await _form(request, session)
    action = _action(_text(form, "action", 20))
    note = _text(form, "note", NOTE_MAX)
    me = session.moderator
    results = await run_in_threadpool(
        _stored, lambda: _queue(request).act(me, [comment_id], action, note=note)
    )
    result = _one_result(results)
    back = _back(form)
    if action is ModerationAction.DELETE and back.startswith(f"{PREFIX}/comments/"):
        back = QUEUE_URL  # the comment's own page is gone
    target = back + safe_fragment(_text(form, "focus", 64) or None)
    return _redirect(request, target, flash=_outcome(action, [result]), key=session.csrf)


@router.post("/comments/{comment_id}/undo")
async def comment_undo(request: Request, session: SessionDep, comment_id: str) -> Response:
    """Undo the last action on one comment still in force; back to where the moderator was."""
    form = await _form(request, session)
    me = session.moderator
    result = await run_in_threadpool(_stored, lambda: _queue(request).undo(me, comment_id))
    _one_result([result])
    back = _back(form, f"{PREFIX}/comments/{comment_id}")
    return _redirect(request, back, flash=_outcome(None, [result]), key=session.csrf)


# API tokens


def _tokens_page(
    request: Request,
    session: WebSession,
    *,
    status: int = 200,
    new_token: str = "",
    problem: str = "",
) -> HTMLResponse:
    me = session.moderator
    tokens = _stored(lambda: _accounts(request).tokens(me.name))
    return _page(
        request,
        "tokens.html",
        session,
        page="tokens",
        status=status,
        tokens=tokens,
        new_token=new_token,
        problem=problem,
    )


@router.get("/tokens")
def tokens_page(request: Request, session: SessionDep) -> Response:
    """The moderator's own API tokens (never the tokens themselves, only their first letters)."""
    return _tokens_page(request, session)


@router.post("/tokens")
async def tokens_change(request: Request, session: SessionDep) -> Response:
    """Create a token (shown on this answer only, never again) or revoke one of one's own."""
    form = await _form(request, session)
    accounts = _accounts(request)
    me = session.moderator
    op = _text(form, "op", 20)
    if op == "create":
        label = _text(form, "label", 500)
        try:
            token = await run_in_threadpool(
                _stored, lambda: accounts.create_token(me.name, label=label)
            )
        except AccountInputError as exc:
            problem = str(exc)
            return await run_in_threadpool(
                lambda: _tokens_page(request, session, status=400, problem=problem)
            )
        return await run_in_threadpool(lambda: _tokens_page(request, session, new_token=token))
    if op == "revoke":
        token_id = _text(form, "token", 20)
        if not token_id.isdigit():
            raise PageError(400, "No such token", "Choose a token from the list.")
        revoked = await run_in_threadpool(
            _stored, lambda: accounts.revoke_token(int(token_id), moderator_id=me.id)
        )
        flash = (
            Flash("Revoked the token: programs using it are refused from now on.")
            if revoked
            else Flash("That token was already revoked, or is not yours.", error=True)
        )
        return _redirect(request, f"{PREFIX}/tokens", flash=flash, key=session.csrf)
    raise PageError(400, "Unknown request", "Create or revoke a token with the forms.")
