"""LISTEN/NOTIFY payloads carry their sending time, and the receiving process observes the lag."""

from __future__ import annotations

import json

from flagward import metrics
from flagward.domain.events import EnvironmentChanged, ItemKind, SdkItemChanged
from flagward.streaming.pg_notify import decode, encode


def _count() -> float:
    return metrics.REGISTRY.get_sample_value("flagward_fanout_lag_seconds_count") or 0.0


def test_each_payload_is_observed_once_and_old_payloads_still_decode() -> None:
    events = [SdkItemChanged("env", ItemKind.FLAG, "f", 3, False), EnvironmentChanged("env", False, False)]
    (payload,) = encode(events)
    assert all(isinstance(doc["ts"], int) for doc in json.loads(payload))
    before = _count()
    assert decode(payload) == events
    assert _count() == before + 1
    # A payload from a process that predates the timestamp: decoded, not observed.
    legacy = json.dumps([{k: v for k, v in doc.items() if k != "ts"} for doc in json.loads(payload)])
    assert decode(legacy) == events
    assert _count() == before + 1
