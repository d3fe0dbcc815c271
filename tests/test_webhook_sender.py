"""The webhook sender against a real HTTP receiver on loopback, as a blog would run one."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from moderation import webhooks
from moderation.app import open_store
from moderation.store import Store
from moderation.store_webhooks import Delivery, DueDelivery, WebhookStore, enqueue
from moderation.webhook_sender import WebhookSender
from moderation.webhooks import DeliveryState
from tests.conftest import make_settings
from tests.servers import free_port


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A blog's webhook endpoint: answers with `statuses` in turn (then 200), records calls."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    calls: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/moderation"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with me.lock:
                me.calls.append(Received(self.path, dict(self.headers.items()), body))
                status = me.statuses.pop(0) if me.statuses else 200
            if me.delay:
                time.sleep(me.delay)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path, database_url: str) -> Iterator[Store]:
    store = open_store(make_settings(tmp_path, database_url))
    store.create_site("blog", "https://blog.example")
    yield store
    store.engine.dispose()


def owe(store: Store, *, event_id: int = 1) -> int:
    """A delivery as the queue writes it when a comment's status changes."""
    site_id = store.get_site("blog").id
    body = webhooks.compact_json(
        {"event_id": event_id, "comment_id": f"c{event_id}", "status": "approved"}
    )
    with store.writing() as conn:
        delivery_id = enqueue(
            conn,
            site_id=site_id,
            comment_id=f"c{event_id}",
            event_id=event_id,
            body=body,
            now=datetime.now(UTC),
        )
    assert delivery_id is not None
    return delivery_id


@pytest.fixture
def make_sender() -> Iterator[Callable[..., WebhookSender]]:
    """Senders that do not poll unless asked (`start=True`); all closed afterwards."""
    made: list[WebhookSender] = []

    def make(store: Store, **options: Any) -> WebhookSender:
        values: dict[str, Any] = {"poll_seconds": 0.05, "timeout_seconds": 2.0, "start": False}
        values.update(options)
        made.append(WebhookSender(store, **values))
        return made[-1]

    yield make
    for one in made:
        one.close()


MakeSender = Callable[..., WebhookSender]


def delivery(store: Store, delivery_id: int) -> Delivery:
    return WebhookStore(store).delivery(delivery_id)


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_blog_can_verify_the_signature_of_what_it_receives(
    store: Store, receiver: Receiver, make_sender: MakeSender
) -> None:
    secret = WebhookStore(store).set_webhook("blog", receiver.url)
    assert secret is not None
    delivery_id = owe(store, event_id=7)
    assert make_sender(store).run_once() == 1
    [call] = receiver.calls
    assert call.path == "/hooks/moderation"
    assert call.headers["Content-Type"] == "application/json"
    assert webhooks.verify(secret, call.body, call.headers[webhooks.SIGNATURE_HEADER])
    assert not webhooks.verify("another secret", call.body, call.headers[webhooks.SIGNATURE_HEADER])
    assert call.headers[webhooks.EVENT_HEADER] == "7"
    assert call.headers[webhooks.DELIVERY_HEADER] == str(delivery_id)
    assert call.body == b'{"comment_id":"c7","event_id":7,"status":"approved"}'
    done = delivery(store, delivery_id)
    assert (done.state, done.attempts, done.last_status_code) == (DeliveryState.DELIVERED, 1, 200)
    assert make_sender(store).run_once() == 0  # delivered once, never again


def test_a_failing_blog_is_retried_with_backoff_until_it_answers(
    store: Store, receiver: Receiver, make_sender: MakeSender
) -> None:
    WebhookStore(store).set_webhook("blog", receiver.url)
    receiver.statuses = [500, 503]
    delivery_id = owe(store)
    clock = [datetime.now(UTC)]
    # The largest wait full jitter can draw: 10 s after the first failure, 20 s after the second.
    one = make_sender(store, clock=lambda: clock[0], retry_delay=lambda n: webhooks.retry_delay(
        n, rand=lambda: 0.999
    ))  # fmt: skip
    assert one.run_once() == 1
    first = delivery(store, delivery_id)
    assert (first.state, first.attempts, first.last_status_code) == (DeliveryState.PENDING, 1, 500)
    assert "HTTP 500" in first.last_error
    assert timedelta(seconds=9.9) < first.next_attempt_at - clock[0] <= timedelta(seconds=10)
    clock[0] += timedelta(seconds=9)
    assert one.run_once() == 0  # not due yet
    clock[0] += timedelta(seconds=2)
    assert one.run_once() == 1
    second = delivery(store, delivery_id)
    assert (second.attempts, second.last_status_code) == (2, 503)
    assert timedelta(seconds=19.9) < second.next_attempt_at - clock[0] <= timedelta(seconds=20)
    clock[0] += timedelta(seconds=21)
    assert one.run_once() == 1
    done = delivery(store, delivery_id)
    assert (done.state, done.attempts, done.last_status_code) == (DeliveryState.DELIVERED, 3, 200)
    assert done.last_error == ""
    assert len(receiver.calls) == 3
    # The same delivery each time: the blog can drop a repeat by its id.
    assert {c.headers[webhooks.DELIVERY_HEADER] for c in receiver.calls} == {str(delivery_id)}


def test_a_dead_address_ends_failed_after_the_last_attempt(
    store: Store, make_sender: MakeSender
) -> None:
    WebhookStore(store).set_webhook("blog", f"http://127.0.0.1:{free_port()}/hook")
    delivery_id = owe(store)
    one = make_sender(store, retry_delay=lambda n: 0.0)
    for _ in range(webhooks.MAX_ATTEMPTS + 3):
        one.run_once()
    failed = delivery(store, delivery_id)
    assert failed.state is DeliveryState.FAILED
    assert failed.attempts == webhooks.MAX_ATTEMPTS
    assert failed.last_status_code is None
    assert "ConnectError" in failed.last_error
    assert WebhookStore(store).deliveries(state=DeliveryState.FAILED)[0].id == delivery_id


def test_redirects_are_not_followed(
    store: Store, receiver: Receiver, make_sender: MakeSender
) -> None:
    WebhookStore(store).set_webhook("blog", receiver.url)
    receiver.statuses = [302]
    delivery_id = owe(store)
    make_sender(store).run_once()
    assert [c.path for c in receiver.calls] == ["/hooks/moderation"]
    moved = delivery(store, delivery_id)
    assert moved.state is DeliveryState.PENDING
    assert moved.last_status_code == 302
    assert "redirects are not followed" in moved.last_error


def test_a_slow_blog_times_out_and_is_retried(
    store: Store, receiver: Receiver, make_sender: MakeSender
) -> None:
    WebhookStore(store).set_webhook("blog", receiver.url)
    receiver.delay = 2.5
    delivery_id = owe(store)
    started = time.monotonic()
    make_sender(store, timeout_seconds=0.2).run_once()
    # Far under the blog's 2.5 s, with room for a busy machine: the sender gave up at 0.2 s.
    assert time.monotonic() - started < 2.0
    slow = delivery(store, delivery_id)
    assert slow.state is DeliveryState.PENDING
    assert "timed out" in slow.last_error


def counting(claim: Callable[..., list[DueDelivery]], into: list[int]) -> Callable[..., Any]:
    """`claim`, noting the ids it hands out in `into`."""

    def claim_and_note(*args: Any, **kwargs: Any) -> list[DueDelivery]:
        due = claim(*args, **kwargs)
        into.extend(d.id for d in due)
        return due

    return claim_and_note


def test_two_senders_on_one_database_never_send_a_delivery_twice(
    tmp_path: Path,
    database_url: str,
    store: Store,
    receiver: Receiver,
    make_sender: MakeSender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    WebhookStore(store).set_webhook("blog", receiver.url)
    receiver.delay = 0.01
    ids = [owe(store, event_id=n) for n in range(60)]
    # A second store: its own engine and connections, as another process or instance has.
    other = open_store(make_settings(tmp_path, database_url))
    claimed: list[list[int]] = [[], []]
    try:
        for n, on in enumerate((store, other)):
            one = make_sender(on, poll_seconds=0.01)
            one.webhooks.claim_due = counting(one.webhooks.claim_due, claimed[n])  # type: ignore[method-assign]
            one.start()
        hooks = WebhookStore(store)
        wait_for(lambda: len(hooks.deliveries(state=DeliveryState.DELIVERED)) == len(ids))
    finally:
        other.engine.dispose()
    counts = Counter(c.headers[webhooks.DELIVERY_HEADER] for c in receiver.calls)
    assert counts == Counter({str(i): 1 for i in ids})
    assert claimed[0]
    assert claimed[1]
    # One attempt each, but for a retry after an attempt the receiver's socket failed (its
    # test server resets a connection now and then on a loaded machine): each is logged.
    failed = Counter(
        record.args[0]
        for record in caplog.records
        if record.name == "moderation.webhook_sender"
        and record.levelno == logging.WARNING
        and isinstance(record.args, tuple)
        and len(record.args) == 5
    )
    assert {d.id: d.attempts for d in WebhookStore(store).deliveries()} == {
        i: 1 + failed[i] for i in ids
    }


def test_the_sender_outlives_a_database_fault(
    store: Store, receiver: Receiver, make_sender: MakeSender, caplog: pytest.LogCaptureFixture
) -> None:
    WebhookStore(store).set_webhook("blog", receiver.url)
    delivery_id = owe(store)
    one = make_sender(store, poll_seconds=0.01)
    real = one.webhooks.has_due
    faults = [RuntimeError("database went away")]

    def flaky(now: datetime) -> bool:
        if faults:
            raise faults.pop()
        return real(now)

    one.webhooks.has_due = flaky  # type: ignore[method-assign]
    one.start()
    wait_for(lambda: delivery(store, delivery_id).state is DeliveryState.DELIVERED)
    assert "sending webhooks failed" in caplog.text


def test_close_stops_a_sender_at_once(store: Store, make_sender: MakeSender) -> None:
    one = make_sender(store, start=True, poll_seconds=30.0)
    time.sleep(0.05)
    started = time.monotonic()
    one.close()
    assert time.monotonic() - started < 2.0


def test_a_delivery_owed_to_a_site_without_a_secret_fails_without_a_call(
    store: Store, receiver: Receiver, make_sender: MakeSender
) -> None:
    # A webhook address written without a secret (by hand, or by an older version).
    with store.writing() as conn:
        site_id = store.get_site("blog").id
        enqueue(conn, site_id=site_id, comment_id="c1", event_id=1, body="{}",
                now=datetime.now(UTC), url=receiver.url)  # fmt: skip
    make_sender(store).run_once()
    [failed] = WebhookStore(store).deliveries()
    assert failed.state is DeliveryState.FAILED
    assert "no webhook secret" in failed.last_error
    assert receiver.calls == []
