"""The checks' scoring, rules and writes in a process of their own, beside the serving one.

Both halves of a check are Python: the event loop parsing and answering requests, and the
writer scoring, judging and storing them. In one process they take turns on one interpreter
lock, so a worker uses one core however many it has. A `WriterProcess` runs the writer's half
in a child process (spawned, so it inherits no threads or sockets of the server) on a core of
its own. The event loop itself sends it the checks waiting, as one batch, over a socket pair
and reads the outcomes back when they are ready: no thread of the server waits for the lock in
between, and the child starts the next batch as soon as it has answered one.

A comment is still durable before its answer goes out: the child answers a batch after its
transaction has committed. It scores with the version the serving process's `LiveModel` names
for each batch, so a promotion or a SIGHUP reaches both at once. If the child dies, the batches
it held fail with a StoreError (503: retry); the next ones are checked on a thread of the
serving process until a new child is ready, as they are while the first one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import gc
import io
import logging
import multiprocessing
import operator
import pickle
import signal
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from multiprocessing.process import BaseProcess
from typing import Any

from moderation import artifacts
from moderation.artifacts import ArtifactError, LoadedModel
from moderation.batching import (
    BatchObserver,
    CheckJob,
    Outcome,
    WriterState,
    check_batch,
    settle,
    tell,
)
from moderation.settings import Settings
from moderation.store import Store, StoredCheck, StoreError, engine_for

log = logging.getLogger(__name__)

# Frames on the socket pair: a 4-byte big-endian length, then a pickle. Length 0 asks the child
# to stop. A batch of 128 of the largest comments (64 kB each) stays well under 4 GiB.
_HEADER = struct.Struct("!I")
_STOP = b""
_READY = "ready"  # the child's first frame, once it can check
_RESPAWN_SECONDS = 1.0
# Batches sent before the previous one is answered: the child finds the next one waiting when it
# has answered one, instead of idling until the event loop gets round to reading its answer.
# They are checked in order, each after the one before has committed, as on one thread.
_IN_FLIGHT = 2
_CLOSE_SECONDS = 30.0


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


_Reducer = Callable[[Any], tuple[Any, ...]]
_REDUCERS: dict[type, _Reducer | None] = {}


def _reducer_of(cls: type) -> _Reducer | None:
    """A quicker pickle for the service's own frozen dataclasses and enums (the comments, sites,
    decisions and reasons a batch carries): the class and its fields as one tuple, and an enum
    member by name. The default goes through a Python `__getstate__`/`__setstate__` per object
    and a call to the enum per member, about three times the cost."""
    if not cls.__module__.startswith("moderation."):
        return None
    if issubclass(cls, enum.Enum) and not issubclass(cls, enum.Flag):
        return lambda member: (getattr, (cls, member.name))
    if dataclasses.is_dataclass(cls):
        fields = dataclasses.fields(cls)
        if len(fields) > 1 and all(f.init for f in fields):
            values = operator.attrgetter(*(f.name for f in fields))
            return lambda obj: (cls, values(obj))
    return None


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        try:
            reducer = _REDUCERS[cls]
        except KeyError:
            reducer = _REDUCERS[cls] = _reducer_of(cls)
        return NotImplemented if reducer is None else reducer(obj)


def _dumps(obj: object) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return out.getvalue()


def _loads(data: bytes) -> Any:
    # Only the two ends of one socket pair, made by this process, ever write to it.
    return pickle.loads(data)  # noqa: S301


class WriterProcess:
    """Checks batches in a child process; lives on the event loop that `start` ran on.

    Until the child is ready (it imports the libraries and loads the model, a second or two,
    at each start and after a crash), batches are checked on a thread of this process, one at
    a time, as `BatchWriter` does: a check never waits for the child to start. A batch goes to
    the child only when none runs here, and the reverse, so batches are still checked one after
    the other.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        model: Callable[[], LoadedModel],
        *,
        max_batch: int = 128,
        observe: BatchObserver | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.model = model
        self.max_batch = max_batch
        self.observe = observe
        self._context = multiprocessing.get_context("spawn")
        self._here = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moderation-writer")
        self._process: BaseProcess | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._ready = False
        self._waiting: list[tuple[CheckJob, asyncio.Future[StoredCheck]]] = []
        # Each batch sent to the child: its checks' futures, and when it was sent.
        self._in_flight: deque[tuple[list[asyncio.Future[StoredCheck]], float]] = deque()
        self._checking_here = False
        self._flush_soon = False
        self._closing = False
        self._spawned_at = 0.0
        self.batches = 0
        self.batches_here = 0

    @classmethod
    async def start(
        cls,
        settings: Settings,
        store: Store,
        model: Callable[[], LoadedModel],
        *,
        max_batch: int = 128,
        observe: BatchObserver | None = None,
    ) -> WriterProcess:
        """Start the child, without waiting for it to be ready."""
        writer = cls(settings, store, model, max_batch=max_batch, observe=observe)
        await writer._spawn()
        return writer

    @property
    def pid(self) -> int | None:
        """The child's process id, while one runs."""
        return self._process.pid if self._process is not None else None

    @property
    def ready(self) -> bool:
        """Whether batches go to the child (else to this process's thread)."""
        return self._ready

    @property
    def state(self) -> WriterState:
        """`process` once the child is ready, `starting` until then."""
        return "process" if self._ready else "starting"

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        process = self._context.Process(
            target=serve, args=(self.settings, theirs), name="moderation-writer", daemon=True
        )
        process.start()
        theirs.close()
        self._spawned_at = asyncio.get_running_loop().time()
        self._process = process
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        self._reading = asyncio.create_task(self._read(reader))

    async def submit(self, job: CheckJob) -> StoredCheck:
        """Score, judge and store one check; returns once its transaction has committed."""
        if self._closing:
            raise StoreError("the service is stopping; try again")
        future: asyncio.Future[StoredCheck] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if not self._flush_soon:
            # Sent once this turn of the loop is over, with whatever else arrived in it.
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    def _take(self) -> list[tuple[CheckJob, asyncio.Future[StoredCheck]]]:
        batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
        return batch

    def _flush(self) -> None:
        self._flush_soon = False
        if not self._waiting or self._checking_here:
            return
        if self._ready and self._writer is not None:
            if len(self._in_flight) < _IN_FLIGHT:
                self._send(self._take())
        elif not self._in_flight:
            batch = self._take()
            self._checking_here = True
            done = asyncio.get_running_loop().run_in_executor(
                self._here, check_batch, self.store, self.model, [job for job, _ in batch]
            )
            futures = [f for _, f in batch]
            done.add_done_callback(partial(self._checked_here, futures, time.perf_counter()))

    def _send(self, batch: list[tuple[CheckJob, asyncio.Future[StoredCheck]]]) -> None:
        assert self._writer is not None
        futures = [future for _, future in batch]
        try:
            payload = _dumps((self.model().version, [job for job, _ in batch]))
        except Exception as exc:  # a bug must not leave requests waiting forever
            log.exception("a batch of %d checks could not be sent to the writer", len(batch))
            for future in futures:
                settle(future, StoreError(f"could not store the comment: {exc}"))
            self._flush()
            return
        self._in_flight.append((futures, time.perf_counter()))
        self._writer.write(_frame(payload))

    def _checked_here(
        self,
        futures: list[asyncio.Future[StoredCheck]],
        started: float,
        done: asyncio.Future[list[Outcome]],
    ) -> None:
        self._checking_here = False
        self.batches_here += 1
        error = None if done.cancelled() else done.exception()
        outcomes = (
            [StoreError(f"could not store the comment: {error!r}")] * len(futures)
            if done.cancelled() or error is not None
            else done.result()
        )
        for future, outcome in zip(futures, outcomes, strict=True):
            settle(future, outcome)
        tell(self.observe, len(futures), time.perf_counter() - started)
        self._flush()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                message = _loads(await reader.readexactly(size))
                if message == _READY:
                    log.info("writer process %s is ready", self.pid)
                    self._ready = True
                    self._flush()
                    continue
                outcomes: list[Outcome] = message
                futures, sent = self._in_flight.popleft() if self._in_flight else ([], 0.0)
                if len(outcomes) != len(futures):
                    outcomes = [StoreError("the writer lost track of a batch")] * len(futures)
                for future, outcome in zip(futures, outcomes, strict=True):
                    settle(future, outcome)
                if futures:
                    tell(self.observe, len(futures), time.perf_counter() - sent)
                self.batches += 1
                self._flush()
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self._restart(exc)
        except Exception as exc:  # an answer that cannot be read: start afresh
            log.exception("could not read the writer process's answer")
            await self._restart(exc)

    async def _restart(self, cause: BaseException) -> None:
        self._ready = False
        futures = [future for batch, _ in self._in_flight for future in batch]
        self._in_flight.clear()
        if futures or not self._closing:
            log.error("the writer process stopped (%r); %d checks fail", cause, len(futures))
        for future in futures:
            settle(future, StoreError("the writer process stopped; try again"))
        self._flush()  # what waits is checked here until a new child is ready
        await self._reap()
        if self._closing:
            return
        # A child that cannot even start (a broken install) is not restarted in a tight loop.
        lived = asyncio.get_running_loop().time() - self._spawned_at
        await asyncio.sleep(max(0.0, _RESPAWN_SECONDS - lived))
        if not self._closing:
            await self._spawn()

    async def _reap(self) -> None:
        writer, process = self._writer, self._process
        self._writer = None
        self._process = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        if process is not None:
            await asyncio.to_thread(_join, process)

    async def aclose(self) -> None:
        """Let the checks under way and waiting finish, then stop the child."""
        self._closing = True
        deadline = asyncio.get_running_loop().time() + _CLOSE_SECONDS
        while self._waiting or self._in_flight or self._checking_here:
            if asyncio.get_running_loop().time() > deadline:
                log.error("the writer did not finish its checks in time")
                break
            await asyncio.sleep(0.01)
        for _, future in self._waiting:
            settle(future, StoreError("the service is stopping; try again"))
        self._waiting = []
        if self._writer is not None:
            with contextlib.suppress(ConnectionError):
                self._writer.write(_frame(_STOP))
        if self._reading is not None:
            # Ends at the child's end of file, once it has stopped; a child that does not (one
            # stuck in its start) is killed.
            try:
                await asyncio.wait_for(asyncio.shield(self._reading), _CLOSE_SECONDS)
            except TimeoutError:
                log.error("the writer process did not stop; killing it")
                if self._process is not None:
                    self._process.kill()
                await self._reading
        await self._reap()
        await asyncio.to_thread(self._here.shutdown)


def _join(process: BaseProcess) -> None:
    process.join(timeout=10)
    if process.is_alive():
        process.kill()
        process.join(timeout=5)


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _receive(sock: socket.socket) -> bytes | None:
    """The next frame's payload; None at the stop frame or the end of file."""
    header = _read_exactly(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    return None if size == 0 else _read_exactly(sock, size)


def _answer(
    settings: Settings, store: Store, payload: bytes, live: LoadedModel | None
) -> tuple[bytes, LoadedModel | None]:
    """The outcomes of the batch in `payload`, as a frame's payload, and the model now loaded.

    A batch that cannot be read is answered with no outcome: the serving process then fails
    each of its checks (it knows how many it sent) and goes on.
    """
    try:
        version, jobs = _loads(payload)
    except Exception:
        log.exception("a batch from the serving process could not be read")
        return _dumps([]), live
    outcomes: list[Outcome]
    try:
        live = _model(settings, version, live)
    except (ArtifactError, OSError) as exc:
        outcomes = [StoreError(f"could not load model {version}: {exc}")] * len(jobs)
    else:
        loaded = live
        outcomes = check_batch(store, lambda: loaded, jobs)
    try:
        return _dumps(outcomes), live
    except Exception as exc:
        log.exception("the outcomes of a batch could not be sent back")
        return _dumps([StoreError(f"could not answer: {exc}")] * len(jobs)), live


def serve(settings: Settings, sock: socket.socket) -> None:
    """The child: check each batch the socket brings with the version it names, until told to
    stop or the serving process goes away."""
    # Ctrl-C, SIGHUP and a stop sent to the whole process group (a container's or a service
    # manager's) are for the serving process: it finishes its requests, which need this one,
    # then stops it through the socket. Were the server killed outright, the socket's end of
    # file stops this one.
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s:     [writer] %(message)s"
    )
    # No migration here: the serving process ran it before starting this one. Its checkpointer
    # also checkpoints what this process commits.
    engine = engine_for(settings, checkpoint_in_background=True)
    store = Store(engine)
    live: LoadedModel | None = None
    try:
        live = artifacts.load_current(settings.models_dir)
    except (ArtifactError, OSError) as exc:
        log.error("no model loaded at start (each batch names its own): %s", exc)
    # As in the serving process (app.freeze_what_is_loaded): the libraries and the model live
    # as long as this process, and a full collection over them would pause a batch 40-90 ms.
    gc.collect()
    gc.freeze()
    try:
        sock.sendall(_frame(_dumps(_READY)))
        while (payload := _receive(sock)) is not None:
            answer, live = _answer(settings, store, payload, live)
            sock.sendall(_frame(answer))
    except (ConnectionError, OSError):
        pass  # the serving process went away
    finally:
        sock.close()
        engine.dispose()


def _model(settings: Settings, version: str, live: LoadedModel | None) -> LoadedModel:
    """The model named `version`; the loaded one when it is that version or cannot be replaced."""
    if live is not None and live.version == version:
        return live
    try:
        model = artifacts.load(settings.models_dir / artifacts.check_version_name(version))
        log.info("scoring with model %s", model.version)
        return model
    except (ArtifactError, OSError) as exc:
        if live is None:
            raise
        log.error("keeping model %s: %s", live.version, exc)
        return live
