"""The database tables, shared by the store and the migrations."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("url", String(2000), nullable=False, server_default=""),
    Column("policy", Text, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

site_keys = Table(
    "site_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

comments = Table(
    "comments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("external_id", String(200), nullable=True),
    Column("post_id", String(500), nullable=False, server_default=""),
    Column("permalink", String(2000), nullable=False, server_default=""),
    Column("parent_id", String(200), nullable=False, server_default=""),
    Column("author_name", String(500), nullable=False, server_default=""),
    Column("author_email", String(500), nullable=False, server_default=""),
    Column("author_email_key", String(500), nullable=False, server_default=""),
    Column("author_url", String(2000), nullable=False, server_default=""),
    Column("content", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("user_ip", String(100), nullable=False, server_default=""),
    Column("user_agent", String(2000), nullable=False, server_default=""),
    Column("referrer", String(2000), nullable=False, server_default=""),
    Column("language", String(35), nullable=False, server_default=""),
    Column("form_rendered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("spam_probability", Float, nullable=False),
    Column("discard", Boolean, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("model_version", String(100), nullable=False),
    UniqueConstraint("site_id", "external_id"),
    Index("ix_comments_site_content", "site_id", "content_hash"),
    Index("ix_comments_site_email_created", "site_id", "author_email_key", "created_at"),
    Index("ix_comments_site_ip_created", "site_id", "user_ip", "created_at"),
    Index("ix_comments_site_status_created", "site_id", "status", "created_at"),
    Index("ix_comments_site_email_status", "site_id", "author_email_key", "status"),
    # Akismet-compatible API: test traffic is stored but never counted or learned from, and a
    # training label (from a blog's submit-spam/submit-ham, later a moderator) replaces any
    # earlier one on the same comment.
    Column("is_test", Boolean, nullable=False, server_default=false()),
    Column("label", String(8), nullable=True),
    Column("label_source", String(32), nullable=True),
    Column("labelled_at", DateTime(timezone=True), nullable=True),
    Index("ix_comments_site_created", "site_id", "created_at"),
    Index(
        "ix_comments_site_labelled",
        "site_id",
        "labelled_at",
        postgresql_where=text("labelled_at IS NOT NULL"),
        sqlite_where=text("labelled_at IS NOT NULL"),
    ),
)

# A blog's correction (submit-spam / submit-ham) that names no stored comment: kept as a
# labelled example for training, like a line of the seed corpus.
labelled_samples = Table(
    "labelled_samples",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(8), nullable=False),
    Column("label_source", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("guid", String(200), nullable=False, server_default=""),
    Column("content", Text, nullable=False),
    Column("author_name", String(500), nullable=False, server_default=""),
    Column("author_email", String(500), nullable=False, server_default=""),
    Column("author_url", String(2000), nullable=False, server_default=""),
    Column("permalink", String(2000), nullable=False, server_default=""),
    Column("user_ip", String(100), nullable=False, server_default=""),
    Column("user_agent", String(2000), nullable=False, server_default=""),
    Index("ix_labelled_samples_site_created", "site_id", "created_at"),
)

# Publishing: per site, the secret salt of the avatar hashes and the public read token that a
# blog embeds in its pages (read-only, the approved comments' feed only). A row is made on
# first use. The token is stored as it is: it is public by design, and the operator can be
# shown it again.
site_publishing = Table(
    "site_publishing",
    metadata,
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("avatar_salt", String(64), nullable=False),
    Column("public_token", String(64), nullable=True, unique=True),
    Column("token_created_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The public feed reads a post's approved comments.
Index(
    "ix_comments_site_post_status_created",
    comments.c.site_id,
    comments.c.post_id,
    comments.c.status,
    comments.c.created_at,
)

# Moderation queue (issue: moderators review what the service held or called spam).
# When a comment last changed status, by whom: purge ages trash by it.
comments.append_column(Column("status_changed_at", DateTime(timezone=True), nullable=True))
comments.append_column(Column("moderated_by", String(200), nullable=True))

# A site's webhook: called on every status change with a body signed by the secret.
sites.append_column(Column("webhook_url", String(2000), nullable=False, server_default=""))
sites.append_column(Column("webhook_secret", String(64), nullable=True))

# Moderator accounts, separate from site keys. An admin sees every site; anyone else sees only
# the sites granted in moderator_sites.
moderators = Table(
    "moderators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

moderator_sites = Table(
    "moderator_sites",
    metadata,
    Column(
        "moderator_id",
        Integer,
        ForeignKey("moderators.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)

# API tokens of moderators (Authorization: Bearer), stored hashed like site keys.
moderator_tokens = Table(
    "moderator_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "moderator_id", Integer, ForeignKey("moderators.id", ondelete="CASCADE"), nullable=False
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Web page sessions: the cookie holds a random id, the table its hash and the CSRF token.
moderator_sessions = Table(
    "moderator_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column(
        "moderator_id", Integer, ForeignKey("moderators.id", ondelete="CASCADE"), nullable=False
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_moderator_sessions_expires", "expires_at"),
)

# The append-only history of every status change. comment_id is not a foreign key: the record
# of a comment deleted forever outlives the comment.
comment_events = Table(
    "comment_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("comment_id", String(36), nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("moderator_id", Integer, nullable=True),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("from_label", String(8), nullable=True),
    Column("to_label", String(8), nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_comment_events_comment", "comment_id", "id"),
    Index("ix_comment_events_site_created", "site_id", "created_at"),
)

# Reputation (Antispam Bee's local spam database): the IP, email and link domains of a comment
# a moderator labelled, so that new comments from them lean the same way for a while.
reputation_marks = Table(
    "reputation_marks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("value", String(500), nullable=False),
    Column("label", String(8), nullable=False),
    Column("comment_id", String(36), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_reputation_marks_lookup", "site_id", "kind", "value", "created_at"),
    Index("ix_reputation_marks_comment", "comment_id"),
)

# Webhook calls owed to the blogs: written in the transaction that changes a status, sent by a
# background sender, retried with backoff; the admin sees every attempt's outcome.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site_id", Integer, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("comment_id", String(36), nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("url", String(2000), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_site_created", "site_id", "created_at"),
)

# Failed logins to the web page, counted per account name and per client address by every
# instance alike; rows older than the login window are deleted on write and by the purge.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name_key", String(200), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_login_failures_name_key_created", "name_key", "created_at"),
    Index("ix_login_failures_ip_created", "ip", "created_at"),
)
