"""Work each server process does in the background while it serves: executing scheduled approval
requests, scheduled changes and expiring targets when they fall due, and advancing workflows whose stage
may be ready (each exactly once across processes: the services lock each row), and writing the SDK
evaluation counts it received to the store (flag statuses)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from anyio import to_thread

from flagward.services.approvals import run_due
from flagward.services.expiring_targets import run_due as run_due_expiries
from flagward.services.flag_statuses import EvaluationRecorder, flush_evaluations
from flagward.services.ports import Deps, StoreUnavailable
from flagward.services.scheduled_change_runs import run_due as run_due_changes
from flagward.services.throttling import prune
from flagward.services.workflow_runner import run_due_workflows

log = logging.getLogger("flagward.scheduler")


async def run_scheduler(deps: Deps, interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            executed = await to_thread.run_sync(run_due, deps)
            if executed:
                log.info("executed scheduled approval requests %s", ", ".join(executed))
            changes = await to_thread.run_sync(run_due_changes, deps)
            if changes:
                log.info("executed scheduled changes %s", ", ".join(changes))
            expired = await to_thread.run_sync(run_due_expiries, deps)
            if expired:
                log.info("removed expiring targets %s", ", ".join(expired))
        except StoreUnavailable as exc:
            log.warning("scheduler: store unavailable: %s", exc)
        except Exception:  # a bad request must not stop the scheduler for every other one
            log.exception("scheduler: unexpected error")
        try:  # apart, so that neither kind of work holds the other up
            stages = await to_thread.run_sync(run_due_workflows, deps)
            if stages:
                log.info("ran workflow stages %s", ", ".join(stages))
        except StoreUnavailable as exc:
            log.warning("scheduler: store unavailable: %s", exc)
        except Exception:
            log.exception("scheduler: unexpected error in workflows")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def run_evaluation_flush(deps: Deps, recorder: EvaluationRecorder, interval: float, stop: asyncio.Event) -> None:
    """Flush every ``interval`` seconds, and once more when stopping; log the events dropped since."""
    reported = 0
    while True:
        stopping = stop.is_set()
        try:
            await to_thread.run_sync(flush_evaluations, deps, recorder)
            if recorder.dropped > reported:
                log.warning(
                    "flag statuses: dropped %d malformed SDK events (%d since start; see /healthz)",
                    recorder.dropped - reported,
                    recorder.dropped,
                )
                reported = recorder.dropped
        except StoreUnavailable as exc:
            log.warning("flag statuses: store unavailable, keeping the counts for later: %s", exc)
        except Exception:
            log.exception("flag statuses: unexpected error while writing evaluation counts")
        if stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def run_counter_pruning(deps: Deps, interval: float, stop: asyncio.Event) -> None:
    """Delete rate-limit counters whose window has ended (they would start over anyway)."""
    while not stop.is_set():
        try:
            await to_thread.run_sync(prune, deps)
        except StoreUnavailable as exc:
            log.warning("rate limits: store unavailable: %s", exc)
        except Exception:
            log.exception("rate limits: unexpected error while pruning counters")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
