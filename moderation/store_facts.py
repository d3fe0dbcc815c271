"""The statements that ask what the database knows about new comments: their facts.

A comment's facts (a copy of it, its author's recent comments, an earlier approval, reputation
marks on its address, email and link domains) come from one statement whose parts each walk
their own index, plus one per chunk of its link domains. On PostgreSQL a writer's batch asks
every comment's facts in one statement instead: the batch travels as one JSON parameter,
`json_to_recordset` turns it into rows, and the same parts run for each row. The same
conditions build both forms (`_facts_columns`), so they cannot drift apart.

One statement a batch rather than one or two a comment: psycopg's Python for each statement
sent and read back costs more than PostgreSQL's own work for it, and the server parses, binds
and answers each one. At the check endpoint's peak on PostgreSQL, with the rows inserted the
same way (`store._insert_all`), the writer's CPU a check fell by about a sixth and the
server's by about a quarter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    column,
    false,
    func,
)
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import ARRAY, JSON

from moderation.domain import Comment, CommentStatus, Label
from moderation.policy import SitePolicy
from moderation.queue import MarkKind
from moderation.rules import Facts
from moderation.schema import comments, reputation_marks

# A flood of thousands of comments from one address must not make every check count them all.
_COUNT_CAP = 100
# Up to this many link domains are looked up per statement for one comment; more take several.
_DOMAIN_CHUNK = 16


@dataclass(frozen=True, slots=True)
class _Asked:
    """What a comment's facts are asked by, as SQL: bound parameters for one comment, or the
    columns of the rows `json_to_recordset` makes of a batch."""

    site_id: Any
    digest: Any
    post_id: Any
    email: Any
    ip: Any
    since: Any
    marked_since: Any


def _bounded_count(table: Table, site_id: Any, *conditions: Any) -> Any:
    """count(*) of a site's rows of `table` matching `conditions`, stopping at _COUNT_CAP."""
    # A batch's row is correlated two levels up, which SQLAlchemy leaves to be said.
    capped = (
        sql_select(table.c.id)
        .where(table.c.site_id == site_id, *conditions)
        .limit(_COUNT_CAP)
        .correlate_except(table)
    ).subquery()
    return sql_select(func.count()).select_from(capped).scalar_subquery()


def _bounded_marks(asked: _Asked, kind: MarkKind, label: Label, value: Any) -> Any:
    """count(*) of the site's reputation marks of `kind` and `label` in the window, capped."""
    return _bounded_count(
        reputation_marks,
        asked.site_id,
        reputation_marks.c.kind == kind.value,
        value,
        reputation_marks.c.label == label.value,
        reputation_marks.c.created_at >= asked.marked_since,
    )


def _recent(asked: _Asked, author: Any) -> Any:
    """How many of the author's comments (`author`: by email or address) the flood window
    holds, capped."""
    return _bounded_count(
        comments,
        asked.site_id,
        author,
        comments.c.created_at >= asked.since,
        comments.c.is_test == false(),
    )


def _found(*conditions: Any) -> Any:
    """Whether a comment matches `conditions`: a subquery that stops at the first.

    Not EXISTS: PostgreSQL may run an EXISTS by hashing every row it could match once, rather
    than look each batch row's up in an index, and a plan made once for any batch counts on a
    hundred rows: made while the table was small, such a plan read the whole table at every
    batch as it grew (1.4 ms of the server's CPU a check at the benchmark's peak).
    """
    return sql_select(comments.c.id).where(*conditions).limit(1).scalar_subquery().is_not(None)


def _facts_columns(asked: _Asked) -> list[Any]:
    """Every fact about a new comment but its link domains' marks: each walks its own index."""
    return [
        _found(
            comments.c.site_id == asked.site_id,
            comments.c.content_hash == asked.digest,
            comments.c.post_id == asked.post_id,
            comments.c.author_email_key == asked.email,
            comments.c.status != CommentStatus.REJECTED.value,
            comments.c.is_test == false(),
        ).label("duplicate"),
        _recent(asked, comments.c.author_email_key == asked.email).label("recent_by_email"),
        _recent(asked, comments.c.user_ip == asked.ip).label("recent_by_ip"),
        _found(
            comments.c.site_id == asked.site_id,
            comments.c.author_email_key == asked.email,
            comments.c.status == CommentStatus.APPROVED.value,
            comments.c.is_test == false(),
        ).label("approved"),
        _bounded_marks(asked, MarkKind.IP, Label.SPAM, reputation_marks.c.value == asked.ip).label(
            "spam_ip"
        ),
        _bounded_marks(
            asked, MarkKind.EMAIL, Label.SPAM, reputation_marks.c.value == asked.email
        ).label("spam_email"),
        _bounded_marks(
            asked, MarkKind.EMAIL, Label.HAM, reputation_marks.c.value == asked.email
        ).label("ham_email"),
    ]


def _domain_columns(asked: _Asked, linked: Any) -> list[Any]:
    """The spam marks on the link domains `linked` (a condition on a mark's value): how many
    (capped), and the first of them."""
    return [
        _bounded_marks(asked, MarkKind.DOMAIN, Label.SPAM, linked).label("spam_domains"),
        sql_select(reputation_marks.c.value)
        .where(
            reputation_marks.c.site_id == asked.site_id,
            reputation_marks.c.kind == MarkKind.DOMAIN.value,
            linked,
            reputation_marks.c.label == Label.SPAM.value,
            reputation_marks.c.created_at >= asked.marked_since,
        )
        .order_by(reputation_marks.c.value)
        .limit(1)
        .scalar_subquery()
        .label("spam_domain"),
    ]


_ONE = _Asked(
    site_id=bindparam("site_id", type_=Integer()),
    digest=bindparam("digest"),
    post_id=bindparam("post_id"),
    email=bindparam("email", type_=String()),
    ip=bindparam("ip"),
    since=bindparam("since", type_=DateTime(timezone=True)),
    marked_since=bindparam("marked_since", type_=DateTime(timezone=True)),
)


def facts_statement() -> Any:
    """One comment's facts but its link domains' marks (binds: `one_parameters`)."""
    return sql_select(*_facts_columns(_ONE))


def domain_marks_statement(count: int) -> Any:
    """The spam marks on `count` link domains of one comment (binds domain_0...)."""
    domains = [bindparam(f"domain_{i}", type_=String()) for i in range(count)]
    return sql_select(*_domain_columns(_ONE, reputation_marks.c.value.in_(domains)))


def batch_statement() -> Any:
    """PostgreSQL: the facts of a batch of comments, link domains' marks included: a row each,
    in the order given (binds: `batch_parameters`)."""
    # The batch as one JSON parameter: psycopg dumps an array parameter in Python, item by
    # item, where json.dumps does the whole batch in C.
    rows = (
        func.json_to_recordset(bindparam("batch", type_=JSON()))
        .table_valued(
            column("n", Integer()),
            column("site_id", Integer()),
            column("digest", String()),
            column("post_id", String()),
            column("email", String()),
            column("ip", String()),
            column("since", DateTime(timezone=True)),
            column("marked_since", DateTime(timezone=True)),
            column("domains", ARRAY(String())),
        )
        .render_derived(name="batch", with_types=True)
    )
    asked = _Asked(
        site_id=rows.c.site_id,
        digest=rows.c.digest,
        post_id=rows.c.post_id,
        email=rows.c.email,
        ip=rows.c.ip,
        since=rows.c.since,
        marked_since=rows.c.marked_since,
    )
    linked = reputation_marks.c.value == any_(rows.c.domains)
    return (
        sql_select(*_facts_columns(asked), *_domain_columns(asked, linked))
        .select_from(rows)
        .order_by(rows.c.n)
    )


def generic_plans_statement() -> Any:
    """PostgreSQL: plan the statements of the rest of the transaction once, not per call.

    Its planner plans a prepared statement anew for each call while that looks cheaper than a
    plan made once for any values, and for `batch_statement` it always does: the plan for the
    arrays at hand costs a batch's rows, one made once the default hundred. Planning the batch
    statement takes longer (1.5 ms here) than running it for ten comments, and the plan
    cannot differ: every value it compares with comes from the arrays' rows.
    """
    return sql_select(func.set_config("plan_cache_mode", "force_generic_plan", True))


@dataclass(frozen=True, slots=True)
class Ask:
    """One comment's facts to ask: its values, and the link domains whose marks count."""

    site_id: int
    policy: SitePolicy
    comment: Comment
    now: datetime
    digest: str
    email: str
    domains: Sequence[str]

    def windows(self) -> tuple[datetime, datetime]:
        """Since when its author's comments count for a flood, and reputation marks count."""
        return (
            self.now - timedelta(seconds=self.policy.flood_interval_seconds),
            self.now - timedelta(days=self.policy.reputation_days),
        )


def one_parameters(ask: Ask) -> dict[str, Any]:
    """`facts_statement`'s values for one comment."""
    since, marked_since = ask.windows()
    return {
        "site_id": ask.site_id,
        "digest": ask.digest,
        "post_id": ask.comment.post_id,
        "email": ask.email,
        "ip": ask.comment.user_ip,
        "since": since,
        "marked_since": marked_since,
    }


def domain_chunks(ask: Ask) -> list[tuple[int, dict[str, Any]]]:
    """`domain_marks_statement`'s domain count and values for one comment, a chunk of its
    domains each."""
    _, marked_since = ask.windows()
    chunks = (
        ask.domains[start : start + _DOMAIN_CHUNK]
        for start in range(0, len(ask.domains), _DOMAIN_CHUNK)
    )
    return [
        (
            len(chunk),
            {
                "site_id": ask.site_id,
                "marked_since": marked_since,
                **{f"domain_{i}": domain for i, domain in enumerate(chunk)},
            },
        )
        for chunk in chunks
    ]


def batch_parameters(asks: Sequence[Ask]) -> dict[str, Any]:
    """`batch_statement`'s values for several comments."""
    batch = []
    for n, ask in enumerate(asks):
        values = one_parameters(ask)
        # JSON has no time type: json_to_recordset reads ISO 8601, offset included.
        values["since"] = values["since"].isoformat()
        values["marked_since"] = values["marked_since"].isoformat()
        batch.append({**values, "n": n, "domains": list(ask.domains)})
    return {"batch": batch}


def facts_of(ask: Ask, row: dict[str, Any], marks: Sequence[dict[str, Any]]) -> Facts:
    """A comment's facts from its facts row and its rows of domain marks (`spam_domains`,
    `spam_domain`): a chunk of its domains each, or the batch statement's row itself."""
    comment, policy, email = ask.comment, ask.policy, ask.email
    # An empty email or IP matches every anonymous comment: such a match means nothing.
    recent = max(
        int(row["recent_by_email"]) if email else 0,
        int(row["recent_by_ip"]) if comment.user_ip else 0,
    )
    reputation: dict[str, Any] = {}
    if policy.check_reputation:
        # The chunks hold different domains: their counts add up, capped like each.
        spam_domains, spam_domain = 0, ""
        for found in marks:
            spam_domains = min(_COUNT_CAP, spam_domains + int(found["spam_domains"]))
            if found["spam_domain"] and (not spam_domain or found["spam_domain"] < spam_domain):
                spam_domain = found["spam_domain"]
        reputation = {
            "reputation_spam_ip": int(row["spam_ip"]) if comment.user_ip else 0,
            "reputation_spam_email": int(row["spam_email"]) if email else 0,
            "reputation_spam_domains": spam_domains,
            "reputation_spam_domain": spam_domain,
            "reputation_ham_email": int(row["ham_email"]) if email else 0,
        }
    return Facts(
        now=ask.now,
        duplicate=bool(row["duplicate"]) and policy.check_duplicates,
        recent_from_same_author=recent if policy.check_flood else 0,
        previously_approved=bool(row["approved"]) and bool(email)
        and policy.trust_previously_approved,
        **reputation,
    )  # fmt: skip
