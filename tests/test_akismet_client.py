"""The `akismet` client from PyPI, unmodified, against a real `moderation serve` process.

The client always talks to https://rest.akismet.com; its `http_client=` gets an httpx client
whose transport sends each request to the server on loopback instead, as a hosts entry or a
proxy would, the Host header unchanged.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import akismet
import httpx
import pytest

from moderation.domain import Label
from moderation.policy import SitePolicy
from moderation.store import Store, make_engine, migrate
from tests.conftest import MODELS_DIR
from tests.servers import free_port, serving

BLOG = "https://blog.example"
HAM: akismet.AkismetArguments = {
    "comment_type": "comment",
    "comment_author": "Camille",
    "comment_author_email": "camille@example.org",
    "comment_content": "I was at the council meeting and the vote was on Tuesday, not Monday. "
    "Otherwise a fair summary, thanks for covering it.",
    "permalink": f"{BLOG}/tuition-vote",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
}
SPAM: akismet.AkismetArguments = {
    **HAM,
    "comment_author": "Best Online Casino Bonus",
    "comment_author_email": "promo@casino-bonus.example",
    "comment_author_url": "https://casino-bonus.example",
    "comment_content": "Great post! Play online casino slots and poker with a 500% welcome bonus, "
    "free spins every day, withdraw instantly: https://casino-bonus.example/slots",
}


class ToServer(httpx.BaseTransport):
    """Sends every request to `base` instead of the host in its URL; `host` replaces the Host
    header when given (the old `KEY.rest.akismet.com` form, passed on by a proxy)."""

    def __init__(self, base: str, host: str = "") -> None:
        self.base = httpx.URL(base)
        self.host = host
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        if self.host:
            request.headers["Host"] = self.host
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncToServer(httpx.AsyncBaseTransport):
    """The asynchronous twin of ToServer."""

    def __init__(self, base: str) -> None:
        self.base = httpx.URL(base)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Server:
    """A running `moderation serve` with two sites: `blog` (default policy) and `forum`
    (never discards), and a store on the same database to look at what it stored."""

    base: str
    key: str
    short_key: str
    forum_key: str
    store: Store

    def http(self, host: str = "") -> httpx.Client:
        """An httpx client for the akismet package that reaches this server."""
        return httpx.Client(transport=ToServer(self.base, host), timeout=10)

    def client(self, key: str = "", blog: str = BLOG) -> akismet.SyncClient:
        """A validated client, as an application builds one."""
        config = akismet.Config(key=key or self.key, url=blog)
        return akismet.SyncClient.validated_client(config=config, http_client=self.http())


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """`moderation serve` on a free loopback port, on SQLite or PostgreSQL."""
    engine = make_engine(database_url)
    migrate(engine)
    store = Store(engine)
    _, key = store.create_site("blog", BLOG)
    short_key = store.add_akismet_key("blog")
    _, forum_key = store.create_site(
        "forum", "https://forum.example", SitePolicy(discard_threshold=1.0)
    )
    port = free_port()
    env = {**os.environ, "MODERATION_DATABASE_URL": database_url,
           "MODERATION_DATA_DIR": str(tmp_path / "data"), "MODERATION_MODELS_DIR": str(MODELS_DIR),
           "MODERATION_PORT": str(port), "MODERATION_CREATE_FIRST_SITE": "false"}  # fmt: skip
    try:
        with serving(env, tmp_path / "server.log") as running:
            yield Server(running.base, key, short_key, forum_key, store)
    finally:
        engine.dispose()


def test_the_client_validates_its_key_on_construction(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server.client() as client:
        assert client.verify_key() is True
        assert client.verify_key(server.short_key, BLOG) is True
        assert client.verify_key("0123456789ab", BLOG) is False
    # The configuration applications usually give it: the environment.
    monkeypatch.setenv("PYTHON_AKISMET_API_KEY", server.short_key)
    monkeypatch.setenv("PYTHON_AKISMET_BLOG_URL", BLOG)
    assert akismet.SyncClient.validated_client(http_client=server.http()).verify_key()
    monkeypatch.setenv("PYTHON_AKISMET_API_KEY", "mod_revoked-or-never-issued")
    with pytest.raises(akismet.APIKeyError):
        akismet.SyncClient.validated_client(http_client=server.http())


def test_comment_check_answers_ham_spam_and_discard(server: Server) -> None:
    client = server.client()
    assert client.comment_check("198.51.100.7", **HAM) is akismet.CheckResponse.HAM
    test_spam: akismet.AkismetArguments = {**HAM, "comment_author": "viagra-test-123"}
    assert client.comment_check("198.51.100.8", **test_spam) is akismet.CheckResponse.SPAM
    # Blatant spam by the classifier, over the site's discard threshold.
    assert client.comment_check("203.0.113.50", **SPAM) is akismet.CheckResponse.DISCARD
    # A site that never discards gets the same comment as plain spam.
    forum = server.client(key=server.forum_key, blog="https://forum.example")
    assert forum.comment_check("203.0.113.50", **SPAM) is akismet.CheckResponse.SPAM
    admin: akismet.AkismetArguments = {**SPAM, "user_role": "administrator"}
    admin["comment_content"] = SPAM["comment_content"] + "!"
    assert client.comment_check("203.0.113.51", **admin) is akismet.CheckResponse.HAM
    # Every one of them was stored with its decision, test traffic apart from the rest.
    test: akismet.AkismetArguments = {**HAM, "comment_content": "Testing.", "is_test": True}
    assert client.comment_check("198.51.100.9", **test) is akismet.CheckResponse.HAM
    assert client.usage_limit() == {
        "limit": "none", "usage": 4, "percentage": "0.00", "throttled": False,
    }  # fmt: skip


def test_submit_spam_and_ham_become_training_labels(server: Server) -> None:
    client = server.client()
    guid = httpx.post(
        server.base + "/1.1/comment-check",
        data={"api_key": server.key, "blog": BLOG, "user_ip": "198.51.100.7", **HAM},
    ).headers["X-akismet-guid"]
    site_id = server.store.get_site("blog").id
    # The client cannot send a guid: the comment is found by its content and author.
    assert client.submit_spam("198.51.100.7", **HAM) is True
    row = server.store.get_comment(site_id, guid)
    assert (row["label"], row["label_source"]) == (Label.SPAM.value, "akismet-submit")
    assert client.submit_ham("198.51.100.7", **HAM) is True
    assert server.store.get_comment(site_id, guid)["label"] == Label.HAM.value
    # A false negative the service never saw is kept as a labelled example.
    unseen: akismet.AkismetArguments = {**SPAM, "comment_content": "Cheap pills"}
    assert client.submit_spam("203.0.113.9", **unseen)
    samples = server.store.labelled_samples(site_id)
    assert [(s["label"], s["content"]) for s in samples] == [("spam", "Cheap pills")]
    assert client.usage_limit()["usage"] == 1  # checks count; corrections do not


def test_key_sites_through_the_client(server: Server) -> None:
    client = server.client()
    assert client.comment_check("198.51.100.7", **HAM) is akismet.CheckResponse.HAM
    assert client.comment_check("203.0.113.50", **SPAM) is akismet.CheckResponse.DISCARD
    assert client.submit_ham("203.0.113.50", **SPAM)
    # The client's key_sites() sends no key (akismet 25.10.1): the key must come another way,
    # here the old KEY.rest.akismet.com host form. Without it the answer is "invalid".
    with pytest.raises(akismet.APIKeyError):
        client.key_sites()
    config = akismet.Config(key=server.short_key, url=BLOG)
    hosted = akismet.SyncClient(
        config=config, http_client=server.http(host=f"{server.short_key}.rest.akismet.com")
    )
    report = hosted.key_sites()
    assert isinstance(report, dict)
    (month,) = [key for key in report if key not in ("limit", "offset", "total")]
    assert report[month] == [
        {"site": "blog.example", "api_calls": "2", "spam": "1", "ham": "1", "missed_spam": "0",
         "false_positives": "1", "is_revoked": False}
    ]  # fmt: skip
    csv = hosted.key_sites(result_format="csv")
    assert isinstance(csv, str)
    assert csv.splitlines()[2] == "blog.example,2,1,1,0,1,false"


def test_the_async_client(server: Server) -> None:
    async def run() -> list[akismet.CheckResponse]:
        config = akismet.Config(key=server.key, url=BLOG)
        http = httpx.AsyncClient(transport=AsyncToServer(server.base), timeout=10)
        async with akismet.AsyncClient(config=config, http_client=http) as client:
            answers = [
                await client.comment_check("198.51.100.7", **HAM),
                await client.comment_check("203.0.113.50", **SPAM),
            ]
            assert await client.submit_spam("198.51.100.7", **HAM)
            return answers

    assert asyncio.run(run()) == [akismet.CheckResponse.HAM, akismet.CheckResponse.DISCARD]


def test_refusals_on_the_wire(server: Server) -> None:
    # What a client sees when it sends what the service cannot take: never a 500.
    form = {"api_key": server.key, "blog": BLOG, "user_ip": "198.51.100.7"}
    missing = httpx.post(server.base + "/1.1/comment-check", data={"api_key": server.key})
    assert (missing.status_code, missing.headers["X-akismet-error"]) == (
        200, "Missing required field: blog.",
    )  # fmt: skip
    with pytest.raises(akismet.ProtocolError):
        akismet.SyncClient(
            config=akismet.Config(key=server.key, url=BLOG), http_client=server.http()
        ).comment_check("", **HAM)
    bad = httpx.post(
        server.base + "/1.1/comment-check",
        content=str(httpx.QueryParams(form)).encode() + b"&comment_content=caf%E9",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert bad.status_code == 400
    assert "comment_content" in bad.headers["X-akismet-debug-help"]
    big = httpx.post(
        server.base + "/1.1/comment-check", data={**form, "comment_content": "x" * 3_000_000}
    )
    assert big.status_code == 413
