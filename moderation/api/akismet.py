"""Akismet's REST protocol (verify-key, comment-check, submit-spam/ham, usage-limit, key-sites).

Every answer is what Akismet's clients expect: text/plain `valid`/`invalid`, `true`/`false`, the
thanks sentence, or Akismet's JSON and CSV reports. Protocol-level refusals (a bad key, a
missing required field) are 200 answers with Akismet's headers, as Akismet gives them; a body
that cannot be decoded or a field that cannot be stored is a 4xx with the reason in the body and
in `X-akismet-debug-help`. comment-check decides through `akismet.judge` and the batch writer,
the same path as /v1/comments/check.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.requests import ClientDisconnect

from moderation import akismet
from moderation.akismet import CheckRequest, Form, FormError, MissingFieldError
from moderation.api.deps import RateLimitedError, StoreDep, WriterDep, check_limited
from moderation.batching import CheckJob
from moderation.domain import Label
from moderation.store import Site, Store, Usage

router = APIRouter(tags=["akismet"])
PATH_PREFIXES = ("/1.1/", "/1.2/")
LABEL_SOURCE = "akismet-submit"
_FORM = "application/x-www-form-urlencoded"
_ORDERS = ("total", "spam", "ham", "missed_spam", "false_positives")
_MAX_REPORT_ROWS = 500
_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "Akismet's plain-text answer."}
}


class _RefusedError(Exception):
    """Raised inside a handler to answer at once with `response`."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _text(body: str, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(body, status_code=status, headers=headers)


def _invalid(why: str) -> Response:
    return _text("invalid", headers={"X-akismet-debug-help": why})


def _bad(exc: FormError) -> Response:
    return _text(str(exc), status=exc.status, headers={"X-akismet-debug-help": str(exc)})


def _missing(exc: MissingFieldError) -> Response:
    return _text(str(exc), headers={"X-akismet-error": str(exc), "X-akismet-debug-help": str(exc)})


async def _form(request: Request) -> Form:
    mime, charset = akismet.content_type(request.headers.get("content-type", ""))
    if mime and mime != _FORM:
        message = f"send the fields as {_FORM}, not {mime}"
        raise _RefusedError(_text(message, status=415, headers={"X-akismet-debug-help": message}))
    try:
        body = await request.body()
    except ClientDisconnect as exc:
        # The client left, or the size limit cut the body off and has answered 413 already.
        raise _RefusedError(Response(status_code=400)) from exc
    try:
        return akismet.parse_form(body, charset=charset, query=request.url.query)
    except FormError as exc:
        raise _RefusedError(_bad(exc)) from exc


async def _site(store: Store, form: Form, request: Request) -> Site:
    try:
        key = akismet.key_of(form, request.headers.get("host", ""))
    except FormError as exc:
        raise _RefusedError(_bad(exc)) from exc
    if not key:
        raise _RefusedError(_invalid('Empty "api_key" value: send the API key as api_key'))
    # As for /v1: usually a cache hit; a miss goes to the database on a worker thread.
    cached = store.cached_site_for_key(key)
    site = await run_in_threadpool(store.site_for_key, key) if cached is False else cached
    if site is None:
        raise _RefusedError(_invalid("The API key is not a live key of this service."))
    return site


def _parsed(form: Form, now: datetime, *, require_ip: bool = True) -> CheckRequest:
    try:
        return akismet.check_request(form, now=now, require_ip=require_ip)
    except MissingFieldError as exc:
        raise _RefusedError(_missing(exc)) from exc
    except FormError as exc:
        raise _RefusedError(_bad(exc)) from exc


async def _limited_site(store: Store, form: Form, request: Request) -> Site:
    """`_site`, within the check rate limits of the address and the site."""
    try:
        key = akismet.key_of(form, request.headers.get("host", ""))
    except FormError:
        key = ""  # _site answers that
    cached = store.cached_site_for_key(key) if key else None
    try:
        return await check_limited(
            request,
            lambda: _site(store, form, request),
            known=cached if isinstance(cached, Site) else None,
        )
    except RateLimitedError as exc:
        # Not Akismet's protocol (it has no rate limit): a clear 429 any HTTP client honours.
        headers = {**(exc.headers or {}), "X-akismet-debug-help": str(exc.detail)}
        refused = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
        raise _RefusedError(refused) from exc


async def _answer(handler: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await handler()
    except _RefusedError as refused:
        return refused.response


@router.post("/1.1/verify-key", response_class=PlainTextResponse, responses=_TEXT)
async def verify_key(request: Request, store: StoreDep) -> Response:
    """`valid` when `key` (or `api_key`) is a live API key and `blog` is given, else `invalid`."""

    async def handle() -> Response:
        form = await _form(request)
        try:
            blog = form.text("blog").strip()
        except FormError as exc:
            return _bad(exc)
        await _site(store, form, request)
        if not blog:
            return _invalid('Empty "blog" value: send the front page URL of the site')
        return _text("valid")

    return await _answer(handle)


@router.post("/1.1/comment-check", response_class=PlainTextResponse, responses=_TEXT)
async def comment_check(request: Request, store: StoreDep, writer: WriterDep) -> Response:
    """`true` (spam) or `false`, decided and stored as /v1/comments/check does.

    `X-akismet-guid` names the stored comment; `X-akismet-pro-tip: discard` marks blatant spam;
    `X-moderation-verdict` and `X-moderation-reasons` give this service's own verdict and reason
    codes.
    """

    async def handle() -> Response:
        now = datetime.now(UTC)
        form = await _form(request)
        site = await _limited_site(store, form, request)
        check = _parsed(form, now)
        decide = partial(akismet.judge, check, akismet.effective_policy(site.policy, check))
        stored = await writer.submit(
            CheckJob(site, check.comment, now, decide, is_test=check.is_test)
        )
        if not stored.replayed and request.app.state.metrics is not None:
            request.app.state.metrics.count_decision(site.name, stored.decision)
        answer = akismet.answer(stored.decision)
        headers = {
            "X-akismet-guid": stored.id,
            "X-moderation-verdict": stored.decision.verdict.value,
            "X-moderation-reasons": ",".join(r.code.value for r in stored.decision.reasons),
        }
        if answer.discard:
            headers["X-akismet-pro-tip"] = "discard"
        return _text(answer.body, headers=headers)

    return await _answer(handle)


async def _submit(request: Request, store: Store, label: Label) -> Response:
    async def handle() -> Response:
        now = datetime.now(UTC)
        form = await _form(request)
        site = await _site(store, form, request)
        # WordPress submits comments older than its own 15-day retention of what it sent with
        # only comment_author_IP, which stands in for user_ip; a missing one costs no label.
        check = _parsed(form, now, require_ip=False)
        if not check.is_test:
            await run_in_threadpool(
                store.record_label,
                site,
                check.comment,
                label,
                source=LABEL_SOURCE,
                now=now,
                guid=check.guid,
            )
        return _text(akismet.THANKS)

    return await _answer(handle)


@router.post("/1.1/submit-spam", response_class=PlainTextResponse, responses=_TEXT)
async def submit_spam(request: Request, store: StoreDep) -> Response:
    """Record the blog's correction: this comment is spam (a training label)."""
    return await _submit(request, store, Label.SPAM)


@router.post("/1.1/submit-ham", response_class=PlainTextResponse, responses=_TEXT)
async def submit_ham(request: Request, store: StoreDep) -> Response:
    """Record the blog's correction: this comment is not spam (a training label)."""
    return await _submit(request, store, Label.HAM)


_REPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {}, "text/csv": {}, "text/plain": {}},
        "description": "Akismet's report (JSON, or CSV when asked), or its plain-text refusal.",
    }
}


@router.get("/1.2/usage-limit", response_class=PlainTextResponse, responses=_REPORT)
@router.post("/1.2/usage-limit", response_class=PlainTextResponse, responses=_REPORT)
async def usage_limit(request: Request, store: StoreDep) -> Response:
    """This month's calls for the key's site: `{limit, usage, percentage, throttled}`."""

    async def handle() -> Response:
        now = datetime.now(UTC)
        form = await _form(request)
        site = await _site(store, form, request)
        _, start, end = akismet.month_bounds("", now)
        usage = await run_in_threadpool(store.monthly_usage, site.id, start, end)
        # This service sets no quota: the limit is "none", as Akismet says of unlimited keys.
        body = {"limit": "none", "usage": usage.api_calls, "percentage": "0.00", "throttled": False}
        return Response(json.dumps(body), media_type="application/json")

    return await _answer(handle)


def _site_label(site: Site) -> str:
    return urlsplit(site.url).hostname or site.url or site.name


def _whole(form: Form, name: str, default: int) -> int:
    raw = form.text(name).strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise FormError(f"{name} must be a whole number, 0 or more", field=name)
    return int(raw)


def _report_row(site: Site, usage: Usage) -> dict[str, Any]:
    # Akismet gives the counts as strings: clients written against it parse them as such.
    return {
        "site": _site_label(site),
        "api_calls": str(usage.api_calls),
        "spam": str(usage.spam),
        "ham": str(usage.ham),
        "missed_spam": str(usage.missed_spam),
        "false_positives": str(usage.false_positives),
        "is_revoked": False,
    }


def _csv(title: str, rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    out.write(title + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["Site", "Total API Calls", "Spam", "Ham", "Missed Spam", "False Positives", "Is Revoked"]
    )
    for row in rows:
        writer.writerow(
            [row["site"], row["api_calls"], row["spam"], row["ham"], row["missed_spam"],
             row["false_positives"], "true" if row["is_revoked"] else "false"]
        )  # fmt: skip
    return out.getvalue()


@router.get("/1.2/key-sites", response_class=PlainTextResponse, responses=_REPORT)
@router.post("/1.2/key-sites", response_class=PlainTextResponse, responses=_REPORT)
async def key_sites(request: Request, store: StoreDep) -> Response:
    """The month's counts (calls, spam, ham, missed spam, false positives) of the key's site.

    Parameters as Akismet's: `month` (YYYY-MM), `filter`, `format` (json or csv), `order`,
    `limit`, `offset`. A key belongs to one site, so the report has at most one row.
    """

    async def handle() -> Response:
        now = datetime.now(UTC)
        form = await _form(request)
        site = await _site(store, form, request)
        try:
            month, start, end = akismet.month_bounds(form.text("month"), now)
            url_filter = form.text("filter").strip().lower()
            result_format = form.text("format").strip().lower() or "json"
            order = form.text("order").strip().lower() or "total"
            limit = _whole(form, "limit", _MAX_REPORT_ROWS)
            offset = _whole(form, "offset", 0)
            if result_format not in ("json", "csv"):
                raise FormError("format must be json or csv", field="format")
            if order not in _ORDERS:
                raise FormError(f"order must be one of {', '.join(_ORDERS)}", field="order")
        except FormError as exc:
            return _bad(exc)
        rows = []
        haystack = f"{site.url} {site.name}".lower()
        if not url_filter or url_filter in haystack:
            usage = await run_in_threadpool(store.monthly_usage, site.id, start, end)
            rows.append(_report_row(site, usage))
        column = "api_calls" if order == "total" else order
        rows.sort(key=lambda row: -int(row[column]))
        page = rows[offset : offset + limit]
        if result_format == "csv":
            title = (
                f"Active sites for {site.name} during {month} "
                f"(limit: {limit}, offset: {offset}, total: {len(rows)})."
            )
            return Response(_csv(title, page), media_type="text/csv")
        body = {month: page, "limit": limit, "offset": offset, "total": len(rows)}
        return Response(json.dumps(body), media_type="application/json")

    return await _answer(handle)
