"""The database figures /metrics reports at scrape time: queue sizes per site."""

from __future__ import annotations

from sqlalchemy import func, select

from moderation.domain import CommentStatus
from moderation.schema import comments, sites
from moderation.store import Store

# The statuses a moderator works through: held comments and those the filter called spam.
QUEUE_STATUSES = (CommentStatus.PENDING, CommentStatus.SPAM)


def queue_sizes(store: Store) -> dict[tuple[str, CommentStatus], int]:
    """Per (site name, status) in QUEUE_STATUSES, how many comments stand there; every site is
    listed, 0 included. StoreError when the database does not answer."""
    # One GROUP BY on site and status, which ix_comments_site_status_created covers.
    counts_query = (
        select(comments.c.site_id, comments.c.status, func.count())
        .where(comments.c.status.in_([status.value for status in QUEUE_STATUSES]))
        .group_by(comments.c.site_id, comments.c.status)
    )
    with store.reading() as conn:
        names: dict[int, str] = {
            int(site_id): str(name)
            for site_id, name in conn.execute(select(sites.c.id, sites.c.name)).all()
        }
        counted = conn.execute(counts_query).all()
    sizes = {(name, status): 0 for name in names.values() for status in QUEUE_STATUSES}
    for site_id, status, count in counted:
        name = names.get(int(site_id))
        if name is not None:
            sizes[(name, CommentStatus(status))] = int(count)
    return sizes
