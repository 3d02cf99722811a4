"""The dispatcher loop: claim due outbox messages, send each with its kind's transport, record the
outcome. One runs in every server process; the store decides who sends what (``Outbox.claim``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import threading
from collections.abc import Mapping

import anyio
from anyio import to_thread

from flagward.domain.outbox import Failure, OutboxMessage, RetryPolicy
from flagward.services import delivery
from flagward.services.ports import DeliveryFailed, Deps, StoreUnavailable, Transport

log = logging.getLogger("flagward.delivery")


class Doorbell:
    """Wakes the dispatcher when this process commits outbox messages, from any thread, so they leave
    at once rather than at the next poll (messages of other processes wait for the poll)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._lock = threading.Lock()

    def attach(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._loop, self._event = loop, event

    def detach(self) -> None:
        with self._lock:
            self._loop = self._event = None

    def ring(self) -> None:
        with self._lock:
            loop, event = self._loop, self._event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(event.set)


class Dispatcher:
    """Delivers outbox messages of the kinds it has a transport for.

    ``lease_seconds`` must outlast any transport's timeout: a message whose lease runs out while it is
    being sent may be claimed and sent again by another process. ``release_on_start``: the store is
    served by this process alone (SQLite), so leases left by a killed predecessor end at start."""

    def __init__(
        self,
        deps: Deps,
        transports: Mapping[str, Transport],
        *,
        policy: RetryPolicy | None = None,
        lease_seconds: float = 120.0,
        poll_seconds: float = 1.0,
        batch: int = 20,
        concurrency: int = 4,
        release_on_start: bool = False,
        doorbell: Doorbell | None = None,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.deps = deps
        self.transports = dict(transports)
        self.policy = policy or RetryPolicy()
        self.lease_ms = int(lease_seconds * 1000)
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.concurrency = concurrency
        self.release_on_start = release_on_start
        self.doorbell = doorbell or Doorbell()
        self.notes = notes  # said once at start (e.g. "e-mail is off")
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; a failing store or transport never ends the loop."""
        for note in self.notes:
            log.warning("%s", note)
        wake = asyncio.Event()
        self.doorbell.attach(asyncio.get_running_loop(), wake)
        try:
            if self.release_on_start:
                await self._guarded(to_thread.run_sync, delivery.release_leases, self.deps)
            while not stop.is_set():
                wake.clear()
                handled = await self._guarded(self.run_once)
                if handled:
                    # More may be due right now: a full batch left some behind, and each message sent
                    # unblocks the next one with its ordering key (a webhook's next delivery).
                    continue
                waiter = asyncio.ensure_future(wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
        finally:
            self.doorbell.detach()
            # Stopping (SIGTERM): whatever this process still holds is claimable by the others at once,
            # rather than when its lease runs out.
            with contextlib.suppress(Exception):
                released = await to_thread.run_sync(delivery.release_leases, self.deps, self.owner)
                if released:
                    log.info("delivery: released %d claimed message(s) on the way out", released)

    async def _guarded(self, call: object, *args: object) -> int:
        try:
            result = await call(*args)  # type: ignore[operator]
        except StoreUnavailable as exc:
            log.warning("delivery: store unavailable: %s", exc)
            return 0
        except Exception:  # one bad message or store hiccup must not stop every other delivery
            log.exception("delivery: unexpected error")
            return 0
        return int(result) if isinstance(result, int) else 0

    async def run_once(self) -> int:
        """Claim one batch of due messages and deliver them concurrently; how many were claimed."""
        messages = await to_thread.run_sync(self._claim)
        if messages:
            limiter = anyio.CapacityLimiter(self.concurrency)
            async with anyio.create_task_group() as group:
                for message in messages:
                    group.start_soon(self._deliver_in_thread, message, limiter)
        return len(messages)

    def _claim(self) -> list[OutboxMessage]:
        return delivery.claim(
            self.deps, owner=self.owner, lease_ms=self.lease_ms, limit=self.batch, kinds=list(self.transports)
        )

    async def _deliver_in_thread(self, message: OutboxMessage, limiter: anyio.CapacityLimiter) -> None:
        try:
            await to_thread.run_sync(self.deliver, message, limiter=limiter)
        except StoreUnavailable as exc:  # the outcome is lost; the lease runs out and it is tried again
            log.warning("delivery: store unavailable while recording message %s: %s", message.id, exc)
        except Exception:
            log.exception("delivery: unexpected error with message %s", message.id)

    def deliver(self, message: OutboxMessage) -> None:
        """Send one claimed message and record the outcome (in the calling thread)."""
        try:
            status_code = self.transports[message.kind].send(message)
        except DeliveryFailed as exc:
            self._failed(message, exc.failure)
            return
        except Exception as exc:  # a transport bug is a failed attempt, not a lost message
            log.exception("delivery: %s transport raised", message.kind)
            self._failed(message, Failure(f"{type(exc).__name__}: {exc}"))
            return
        delivery.record_success(self.deps, message, owner=self.owner, status_code=status_code)

    def _failed(self, message: OutboxMessage, failure: Failure) -> None:
        delivery.record_failure(
            self.deps, message, owner=self.owner, failure=failure, policy=self.policy, jitter=random.random()
        )
        level = logging.WARNING if failure.permanent or message.attempts >= self.policy.max_attempts else logging.INFO
        log.log(
            level,
            "delivery: %s message %s attempt %d failed: %s",
            message.kind,
            message.id,
            message.attempts,
            failure.error,
        )
