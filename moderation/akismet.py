"""Akismet's REST protocol on the domain: form fields to a Comment, a Decision to an answer.

No I/O and no framework: the HTTP layer (`moderation.api.akismet`) reads the bytes, and this
module decodes them, validates the fields, applies the protocol's test switches around
`checking.judge`, and says what the answer is.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from moderation import checking
from moderation.domain import Comment, Decision, Reason, ReasonCode, Score, Verdict, post_key
from moderation.policy import SitePolicy
from moderation.rules import Facts

THANKS = "Thanks for making the web a better place."
TEST_SPAM_AUTHOR = "viagra-test-123"
TEST_SPAM_EMAIL = "akismet-guaranteed-spam@example.com"
# The hidden field the WordPress plugin adds to comment forms, sent back as POST_ak_hp_textarea.
WORDPRESS_HONEYPOT = "POST_ak_hp_textarea"
PINGS = frozenset({"pingback", "trackback"})
MAX_FIELDS = 1000
# The limits of the stored columns, as for /v1/comments/check: longer input is refused, not cut.
MAX_CONTENT_CHARS = 65_536
_LIMITS = {
    "comment_author": 500,
    "comment_author_email": 500,
    "comment_author_url": 2000,
    "permalink": 2000,
    "user_agent": 2000,
    "referrer": 2000,
    "comment_post_ID": 500,
    "comment_parent": 200,
}
_FALSE = frozenset({"", "0", "false", "no", "off"})
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class FormError(ValueError):
    """A request the protocol cannot answer: `status` is the HTTP status to give, `field` names
    the offending field when there is one."""

    def __init__(self, message: str, *, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class MissingFieldError(ValueError):
    """A required field is absent or blank; Akismet answers this with `X-akismet-error`."""

    def __init__(self, field: str) -> None:
        super().__init__(f"Missing required field: {field}.")
        self.field = field


@dataclass(frozen=True, slots=True)
class Form:
    """Decoded form fields; values stay bytes (held as latin-1 text) until a field is read, so a
    field this service ignores can never make a request fail."""

    raw: dict[str, str]
    charset: str

    def has(self, name: str) -> bool:
        """Whether the field was sent, even empty."""
        return name in self.raw

    def text(self, name: str) -> str:
        """The field's text in the blog's charset ('' when absent); undecodable bytes are a 400."""
        raw = self.raw.get(name)
        if raw is None:
            return ""
        try:
            return raw.encode("latin-1").decode(self.charset)
        except UnicodeDecodeError as exc:
            raise FormError(
                f"{name} is not valid {self.charset}: send the fields percent-encoded in the "
                "blog's charset (blog_charset)",
                field=name,
            ) from exc


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip('"')).name
    except LookupError:
        return None


def parse_form(body: bytes, *, charset: str | None = None, query: str = "") -> Form:
    """Decode an application/x-www-form-urlencoded body (and the query string, which it overrides).

    The charset is the Content-Type's, else the form's `blog_charset`, else UTF-8; an unknown
    name falls back to UTF-8. A repeated field keeps its last value, as PHP does.
    """
    try:
        pairs = parse_qsl(
            query, keep_blank_values=True, encoding="latin-1", max_num_fields=MAX_FIELDS
        )
        pairs += parse_qsl(
            body.decode("latin-1"),
            keep_blank_values=True,
            encoding="latin-1",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:
        raise FormError(f"the form cannot be read: {exc}") from exc
    raw: dict[str, str] = {}
    for name, value in pairs:
        # Field names are ASCII in every client; a stray byte must not make the request fail.
        raw[name.encode("latin-1").decode("utf-8", "replace")] = value
    blog_charset = raw.get("blog_charset", "").encode("latin-1").decode("ascii", "replace")
    return Form(raw=raw, charset=_codec(charset) or _codec(blog_charset) or "utf-8")


def content_type(header: str) -> tuple[str, str | None]:
    """The media type of a Content-Type header and its charset parameter, if any."""
    mime, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return mime.strip().lower(), charset


def key_from_host(host: str) -> str:
    """The API key in the leading label of a `KEY.rest.akismet.com` (or `KEY.any.host`) Host."""
    name = host.strip()
    if not name or name.startswith("["):
        return ""  # empty, or an IPv6 literal
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    labels = name.rstrip(".").split(".")
    if len(labels) < 2 or ".".join(labels).lower() == "rest.akismet.com":
        return ""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return labels[0]
    return ""


def key_of(form: Form, host: str) -> str:
    """The API key of a request: the `api_key` field, else `key`, else the Host's leading label."""
    for name in ("api_key", "key"):
        value = form.text(name).strip()
        if value:
            return value
    return key_from_host(host)


def _checked(form: Form, name: str, limit: int) -> str:
    value = form.text(name)
    if "\x00" in value:
        raise FormError(f"{name} must not contain NUL characters", status=422, field=name)
    if len(value) > limit:
        raise FormError(
            f"{name} is longer than {limit:,} characters; nothing is cut, so shorten it",
            status=422,
            field=name,
        )
    return value


def _ip(form: Form, name: str) -> str:
    value = _checked(form, name, 100).strip()
    if not value:
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise FormError(f"{name} must be an IPv4 or IPv6 address", status=422, field=name) from exc


def _flag(form: Form, name: str) -> bool:
    return form.text(name).strip().lower() not in _FALSE


def _post_id(form: Form, permalink: str) -> str:
    # WordPress sends its post id; other clients only the permalink (see domain.post_key).
    post = _checked(form, "comment_post_ID", _LIMITS["comment_post_ID"]).strip()
    return post_key(post, permalink)


def _language(blog_lang: str) -> str:
    # blog_lang is the blog's language or a comma-separated list of them: only a single tag says
    # which language the comment is likely in.
    tag = blog_lang.strip()
    return tag if len(tag) <= 35 and _LANGUAGE_TAG.match(tag) else ""


def _honeypot(form: Form) -> str:
    name = form.text("honeypot_field_name").strip()
    if name:
        return form.text(name)
    return form.text(WORDPRESS_HONEYPOT)


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A comment-check, submit-spam or submit-ham request, as the domain sees it."""

    comment: Comment
    blog: str
    comment_type: str = ""
    is_test: bool = False
    administrator: bool = False
    guaranteed_spam: bool = False
    recheck: bool = False
    guid: str = ""


def check_request(form: Form, *, now: datetime, require_ip: bool = True) -> CheckRequest:
    """Validate the fields of a comment-check (or a submission) and map them onto a Comment.

    `blog` is required, and `user_ip` unless `require_ip` is false (WordPress submits old
    comments with only `comment_author_IP`, which stands in for it). Any other field is optional,
    and a field this service does not know is ignored.
    """
    blog = form.text("blog").strip()
    if not blog:
        raise MissingFieldError("blog")
    user_ip = _ip(form, "user_ip") or _ip(form, "comment_author_IP")
    if require_ip and not user_ip:
        raise MissingFieldError("user_ip")
    content = _checked(form, "comment_content", MAX_CONTENT_CHARS)
    author_name = _checked(form, "comment_author", _LIMITS["comment_author"])
    author_email = _checked(form, "comment_author_email", _LIMITS["comment_author_email"])
    permalink = _checked(form, "permalink", _LIMITS["permalink"])
    user_agent = _checked(form, "user_agent", _LIMITS["user_agent"])
    if not user_agent:
        user_agent = _checked(form, "comment_agent", _LIMITS["user_agent"])
    parent = _checked(form, "comment_parent", _LIMITS["comment_parent"]).strip()
    roles = {r.strip().lower() for r in form.text("user_role").split(",")}
    comment = Comment(
        content=content,
        author_name=author_name,
        author_email=author_email,
        author_url=_checked(form, "comment_author_url", _LIMITS["comment_author_url"]),
        post_id=_post_id(form, permalink),
        permalink=permalink,
        user_ip=user_ip,
        user_agent=user_agent,
        referrer=_checked(form, "referrer", _LIMITS["referrer"]),
        language=_language(form.text("blog_lang")),
        honeypot=_honeypot(form),
        submitted_at=now.astimezone(UTC),
        parent_id="" if parent == "0" else parent,
    )
    return CheckRequest(
        comment=comment,
        blog=blog,
        comment_type=form.text("comment_type").strip().lower(),
        is_test=_flag(form, "is_test"),
        administrator="administrator" in roles,
        guaranteed_spam=author_name.strip() == TEST_SPAM_AUTHOR
        or author_email.strip().lower() == TEST_SPAM_EMAIL,
        recheck=bool(form.text("recheck_reason").strip()),
        guid=form.text("guid").strip(),
    )


def effective_policy(policy: SitePolicy, request: CheckRequest) -> SitePolicy:
    """The site's policy for this request: pingbacks and trackbacks carry no name or email, so
    `require_name_email` does not apply to them (as in WordPress)."""
    if request.comment_type in PINGS and policy.require_name_email:
        return replace(policy, require_name_email=False)
    return policy


def effective_facts(facts: Facts, request: CheckRequest) -> Facts:
    """The stored facts for this request: a recheck (`recheck_reason`) is the same comment sent
    again, so it is neither a duplicate of itself nor a flood."""
    if request.recheck:
        return replace(facts, duplicate=False, recent_from_same_author=0)
    return facts


def judge(request: CheckRequest, policy: SitePolicy, facts: Facts, score: Score) -> Decision:
    """comment-check's decision: the service's judgement of the comment under this request's
    facts, then Akismet's test switches. A module-level function, so that a check can be sent
    to the writer process whole."""
    decision = checking.judge(request.comment, policy, effective_facts(facts, request), score)
    return apply_switches(decision, request)


def apply_switches(decision: Decision, request: CheckRequest) -> Decision:
    """Akismet's test switches over the judged decision: an administrator is always approved,
    Akismet's test author and email are always spam; the judged reasons are kept after."""
    if request.administrator:
        reason = Reason(
            ReasonCode.TRUSTED_ROLE, "the blog says the commenter is an administrator (user_role)"
        )
        verdict, discard = Verdict.APPROVE, False
    elif request.guaranteed_spam:
        reason = Reason(
            ReasonCode.AKISMET_TEST_SPAM,
            "Akismet's test author or email, which always gets a spam answer",
        )
        verdict, discard = Verdict.SPAM, decision.discard
    else:
        return decision
    return replace(decision, verdict=verdict, discard=discard, reasons=(reason, *decision.reasons))


@dataclass(frozen=True, slots=True)
class Answer:
    """What comment-check says: `true` (spam) or `false`, and whether to discard it unseen."""

    spam: bool
    discard: bool

    @property
    def body(self) -> str:
        """The text/plain body."""
        return "true" if self.spam else "false"


def answer(decision: Decision) -> Answer:
    """The Akismet answer for a decision.

    approve and hold are `false` (a held comment waits in this service's queue); spam is `true`,
    with the discard tip for blatant spam; reject is `true` without the tip, so that the blog
    keeps the comment in its spam folder, where a moderator can still rescue it, rather than
    publish what the site's policy refuses.
    """
    spam = decision.verdict in (Verdict.SPAM, Verdict.REJECT)
    return Answer(spam=spam, discard=decision.verdict is Verdict.SPAM and decision.discard)


def month_bounds(month: str, now: datetime) -> tuple[str, datetime, datetime]:
    """The `YYYY-MM` month (the current UTC month when empty) and its start and end in UTC."""
    month = month.strip()
    if not month:
        now = now.astimezone(UTC)
        year, number = now.year, now.month
    else:
        match = _MONTH.match(month)
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
            raise FormError("month must be given as YYYY-MM", field="month")
        year, number = int(match.group(1)), int(match.group(2))
    try:
        start = datetime(year, number, 1, tzinfo=UTC)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    except ValueError as exc:
        raise FormError("month must be given as YYYY-MM", field="month") from exc
    return f"{year:04d}-{number:02d}", start, end
