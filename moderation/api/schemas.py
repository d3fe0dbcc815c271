"""Request and response bodies of the scoring API."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from moderation.batching import WriterState
from moderation.domain import Comment, Decision, post_key

MAX_CONTENT_CHARS = 65_536
# A text that is not all whitespace, as the schema says it (the validators use str.strip()).
# Anchored: unanchored, schemathesis builds its strategy for this schema ten times slower.
NOT_BLANK = r"^\s*\S"
# A dotted quad already in its canonical text (no leading zeros, each part up to 255): what
# ipaddress accepts and would print back unchanged, told by one regular expression instead of
# parsing it into an address and out again, which costs several µs per check.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


def _clean_text(value: str) -> str:
    # PostgreSQL refuses NUL and lone surrogates cannot be stored as UTF-8: refuse them here,
    # with the field named, rather than store something other than what was sent.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if value.isascii():
        return value  # no surrogate is ASCII: spares copying the text to bytes
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must not contain lone surrogate characters") from exc
    return value


def normal_ip(value: str) -> str:
    """An IP address in its canonical text; ValueError, saying so, for anything else."""
    text = value.strip()
    if _CANONICAL_IPV4.fullmatch(text):
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise ValueError("must be an IPv4 or IPv6 address") from exc


def as_utc(value: datetime | None) -> datetime | None:
    """A time in UTC; one without a zone is taken to be UTC already."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ip(value: str) -> str:
    return normal_ip(value) if value.strip() else ""


# Text fields with the limits of their stored columns: longer input is refused, never cut.
Text35 = Annotated[str, Field(max_length=35), AfterValidator(_clean_text)]
Text200 = Annotated[str, Field(max_length=200), AfterValidator(_clean_text)]
Text500 = Annotated[str, Field(max_length=500), AfterValidator(_clean_text)]
Text2000 = Annotated[str, Field(max_length=2000), AfterValidator(_clean_text)]


class CommentIn(BaseModel):
    """A comment to check, as the blog's form received it."""

    # The schema says what `_post_given` checks: a post_id or a permalink that is not blank.
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=False,
        json_schema_extra={
            "anyOf": [
                {"required": ["post_id"], "properties": {"post_id": {"pattern": NOT_BLANK}}},
                {"required": ["permalink"], "properties": {"permalink": {"pattern": NOT_BLANK}}},
            ]
        },
    )

    content: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_CHARS,
                                  json_schema_extra={"pattern": NOT_BLANK}),
                       AfterValidator(_clean_text)]  # fmt: skip
    post_id: Text500 = ""
    permalink: Text2000 = ""
    author_name: Text500 = ""
    author_email: Text500 = ""
    author_url: Text2000 = ""
    user_ip: Annotated[
        str,
        Field(
            max_length=100,
            json_schema_extra={
                "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}, {"pattern": r"^\s*$"}]
            },
        ),
        AfterValidator(_ip),
    ] = ""
    user_agent: Text2000 = ""
    referrer: Text2000 = ""
    language: Text35 = ""
    honeypot: Text2000 = ""
    form_rendered_at: Annotated[datetime | None, AfterValidator(as_utc)] = Field(
        None, description="When the blog rendered the form: ISO 8601 or Unix seconds."
    )
    parent_id: Text200 = ""
    external_id: Text200 = ""

    @model_validator(mode="after")
    def _post_given(self) -> CommentIn:
        if not self.post_id.strip() and not self.permalink.strip():
            raise ValueError("give post_id or permalink")
        if not self.content.strip():
            raise ValueError("content must not be blank")
        return self

    def to_domain(self, submitted_at: datetime) -> Comment:
        """The domain comment, stamped with the time the service received it."""
        return Comment(
            content=self.content,
            author_name=self.author_name,
            author_email=self.author_email,
            author_url=self.author_url,
            post_id=post_key(self.post_id, self.permalink),
            permalink=self.permalink,
            user_ip=self.user_ip,
            user_agent=self.user_agent,
            referrer=self.referrer,
            language=self.language,
            honeypot=self.honeypot,
            form_rendered_at=self.form_rendered_at,
            submitted_at=submitted_at,
            parent_id=self.parent_id,
            external_id=self.external_id,
        )


def decision_body(decision: Decision, *, evidence: bool = True) -> dict[str, Any]:
    """A decision as every answer gives it: verdict, probability, reasons, discard, evidence."""
    body: dict[str, Any] = {
        "verdict": decision.verdict.value,
        "spam_probability": round(decision.spam_probability, 4),
        "reasons": [{"code": r.code.value, "message": r.message} for r in decision.reasons],
        "discard": decision.discard,
    }
    if evidence:
        body["evidence"] = [
            {"term": e.term, "weight": round(e.weight, 4)} for e in decision.evidence
        ]
    return body


def check_body(comment_id: str, decision: Decision, model_version: str) -> dict[str, Any]:
    """The JSON body of a check answer, in the shape `CheckOut` documents."""
    return {"id": comment_id, **decision_body(decision), "model_version": model_version}


class ReasonOut(BaseModel):
    """One reason behind a verdict."""

    code: str
    message: str


class EvidenceOut(BaseModel):
    """A term that pushed the classifier's score (positive: towards spam)."""

    term: str
    weight: float


class CheckOut(BaseModel):
    """The decision on a checked comment."""

    id: str
    verdict: str = Field(description="approve, hold, spam or reject")
    spam_probability: float
    reasons: list[ReasonOut]
    discard: bool = Field(description="Blatant spam that the blog may drop silently.")
    model_version: str
    evidence: list[EvidenceOut] = Field(
        default_factory=list, description="Terms that pushed the classifier's score."
    )


class CommentStatusOut(CheckOut):
    """A stored comment's current status beside its original decision."""

    status: str = Field(description="approved, pending, spam, rejected or trash")
    created_at: datetime


class HealthOut(BaseModel):
    """Whether the service can answer."""

    status: str
    database: bool
    model_version: str
    writer: WriterState = Field(
        description="Where checks are scored and stored: `process` (the worker's writer "
        "process), `starting` (a thread of the worker, while that process starts), `thread` "
        "(a thread of the worker: MODERATION_WRITER_PROCESS=false, or unset on a machine with "
        "fewer than two cores per worker)."
    )
