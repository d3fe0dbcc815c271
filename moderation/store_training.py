"""Moderators' decisions as training data: labelled comments and samples, read and exported.

A comment's label is the latest decision on it (approve / not-spam make it ham, mark-spam makes
it spam, a blog's submit-spam / submit-ham likewise); test traffic is never learned from. The
same text labelled twice (two comments, or a comment and a sample) counts once, with the later
label. The export holds authors' email addresses: it is training data, keep it private.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import false, select

from moderation.dataset import Example, content_key
from moderation.domain import Label
from moderation.features import TextInput
from moderation.schema import comments, labelled_samples, sites
from moderation.store import NotFoundError, Store

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _when(value: datetime | None) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if value is None:
        return _EPOCH
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _site_id(store: Store, site: str) -> int:
    with store.reading() as conn:
        site_id = conn.execute(select(sites.c.id).where(sites.c.name == site)).scalar()
    if site_id is None:
        raise NotFoundError(f"no site named {site!r}")
    return int(site_id)


def _rows(store: Store, site_id: int | None) -> list[tuple[datetime, int, dict[str, Any]]]:
    """Every labelled row, with the time of its decision, comments and samples alike."""
    comment_query = select(
        comments.c.content,
        comments.c.author_name,
        comments.c.author_email,
        comments.c.author_url,
        comments.c.language,
        comments.c.label,
        comments.c.labelled_at.label("decided_at"),
        sites.c.name.label("site"),
    ).join(sites, sites.c.id == comments.c.site_id)
    comment_query = comment_query.where(
        comments.c.label.is_not(None), comments.c.is_test == false()
    )
    sample_query = select(
        labelled_samples.c.content,
        labelled_samples.c.author_name,
        labelled_samples.c.author_email,
        labelled_samples.c.author_url,
        labelled_samples.c.label,
        labelled_samples.c.created_at.label("decided_at"),
        sites.c.name.label("site"),
    ).join(sites, sites.c.id == labelled_samples.c.site_id)
    if site_id is not None:
        comment_query = comment_query.where(comments.c.site_id == site_id)
        sample_query = sample_query.where(labelled_samples.c.site_id == site_id)
    with store.reading() as conn:
        found = [dict(r._mapping) for r in conn.execute(comment_query)]
        found += [{**r._mapping, "language": ""} for r in conn.execute(sample_query)]
    # Ties (a blog's correction and a moderator's in the same instant) keep the reading order.
    return sorted(((_when(r["decided_at"]), n, r) for n, r in enumerate(found)),
                  key=lambda t: (t[0], t[1]))  # fmt: skip


def _labelled(store: Store, site: str | None) -> list[tuple[Example, str]]:
    site_id = _site_id(store, site) if site is not None else None
    latest: dict[str, tuple[Example, str]] = {}
    for _, _, row in _rows(store, site_id):
        if row["label"] not in (Label.HAM.value, Label.SPAM.value) or not row["content"].strip():
            continue
        example = Example(
            item=TextInput(
                content=row["content"],
                author_name=row["author_name"] or "",
                author_url=row["author_url"] or "",
            ),
            label=Label(row["label"]),
            author_email=row["author_email"] or "",
            language=row["language"] or "",
        )
        key = content_key(example.item.content)
        # A later decision on the same text replaces the earlier one, and moves to the end.
        latest.pop(key, None)
        latest[key] = (example, str(row["site"]))
    return list(latest.values())


def labelled_examples(store: Store, *, site: str | None = None) -> list[Example]:
    """Labelled, non-test comments and labelled samples (of one site, or all), one per text.

    Ordered by the time of the decision; the same text labelled twice keeps the later label.
    NotFoundError when `site` names no site.
    """
    return [example for example, _ in _labelled(store, site)]


def export(store: Store, out: Path, *, site: str | None = None) -> int:
    """Write labelled_examples as JSONL in the training file format; returns the line count.

    The file is created readable by its owner only: it holds authors' email addresses.
    """
    rows = _labelled(store, site)
    tmp = out.with_name(f".{out.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for example, site_name in rows:
                record = {
                    "content": example.item.content,
                    "label": example.label.value,
                    "author_name": example.item.author_name,
                    "author_email": example.author_email,
                    "author_url": example.item.author_url,
                    "language": example.language,
                    "site": site_name,
                }
                line = json.dumps(record, ensure_ascii=False)
                try:
                    line.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate: only the escaped form is UTF-8
                    line = json.dumps(record)
                handle.write(line + "\n")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(rows)
