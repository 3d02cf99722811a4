"""What travels in NOTIFY payloads: every event, in batches under PostgreSQL's payload limit."""

from __future__ import annotations

from flagward.domain.events import EnvironmentChanged, Event, ItemKind, SdkItemChanged
from flagward.streaming.pg_notify import decode, encode


def test_events_survive_the_round_trip() -> None:
    events: list[Event] = [
        SdkItemChanged("env1", ItemKind.FLAG, "f", 3),
        SdkItemChanged("env1", ItemKind.SEGMENT, "s\u00e9g", 9, deleted=True),
        EnvironmentChanged("env2", reset_credentials=True),
        EnvironmentChanged("env3", deleted=True),
    ]
    (payload,) = encode(events)
    assert decode(payload) == events


def test_many_events_are_split_into_payloads_postgres_accepts() -> None:
    events: list[Event] = [SdkItemChanged("e" * 24, ItemKind.FLAG, f"flag-{i:04d}-" + "k" * 100, i) for i in range(300)]
    payloads = encode(events)
    assert len(payloads) > 1
    assert all(len(p.encode()) < 8000 for p in payloads)
    assert [e for p in payloads for e in decode(p)] == events


def test_a_malformed_payload_is_skipped() -> None:
    assert decode("not json") == []
    assert decode('[{"t": "item", "env": "e"}]') == []
