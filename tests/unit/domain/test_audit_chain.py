"""The hash chain without a store: every stored field is covered, anchors are parsed strictly, and a
log is checked against anchors beyond its end, at a replaced position, or inside a gap."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from flagward.domain.audit import GENESIS_HASH, Access, AuditActor, AuditEntry
from flagward.domain.audit_chain import (
    REMOVED,
    REPLACED,
    TRUNCATED,
    Anchor,
    ChainHead,
    StoredLink,
    head_breaks,
    seal,
    stored_fields,
    verify_chain,
)


def _chain(count: int) -> list[StoredLink]:
    links: list[StoredLink] = []
    for n in range(1, count + 1):
        entry = AuditEntry(
            id=f"{n:024x}",
            date=1000,
            kind="flag",
            name=f"f{n}",
            description="d",
            short_description="s",
            title_verb="updated",
            accesses=[],
            actor=AuditActor(member_id="m"),
            target_resources=["proj/p"],
            seq=n,
        )
        previous = links[-1] if links else None
        seal(
            entry,
            prev_hash=previous.hash if previous else GENESIS_HASH,
            prev_id=previous.entry_id if previous else None,
            prev_date=previous.fields["date"] if previous else None,
        )
        links.append(StoredLink.of(entry))
    return links


def _changed(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return "x"
    if isinstance(value, int):
        return value + 1
    if isinstance(value, dict):
        return {**value, "comment": "tampered"}
    return value + "0"


@pytest.mark.parametrize("name", sorted(stored_fields(AuditEntry("", 0, "", "", "", "", "", [], AuditActor(), []))))
def test_a_change_to_any_stored_field_is_named(name: str) -> None:
    links = _chain(3)
    middle = links[1]
    links[1] = StoredLink({**middle.fields, name: _changed(middle.fields[name])}, middle.hash)
    breaks = verify_chain(links, head=ChainHead(3, links[-1].hash))
    altered = [b for b in breaks if b.reason.startswith("altered")]
    assert any(b.seq == 2 or b.entry_id == middle.entry_id for b in altered), breaks


def test_anchors_are_seq_colon_hash() -> None:
    assert Anchor.parse(f" 12:{'AB' * 32}\n") == Anchor(12, "ab" * 32)
    assert str(Anchor(3, "c" * 64)) == f"3:{'c' * 64}"
    assert Anchor.parse(f"0:{GENESIS_HASH}") == Anchor(0, GENESIS_HASH)
    for bad in ("", "12", f"12:{'a' * 63}", f"-1:{'a' * 64}", f"x:{'a' * 64}", f"0:{'a' * 64}", f"1:{'g' * 64}"):
        with pytest.raises(ValueError, match="not an anchor"):
            Anchor.parse(bad)


def test_an_anchor_held_by_the_log_passes() -> None:
    links = _chain(5)
    anchors = [Anchor(3, links[2].hash), Anchor(5, links[4].hash), Anchor(0, GENESIS_HASH)]
    assert verify_chain(links, head=ChainHead(5, links[4].hash), anchors=anchors) == []


def test_an_anchor_beyond_the_end_names_every_missing_position() -> None:
    links = _chain(5)
    breaks = verify_chain(links[:3], head=ChainHead(3, links[2].hash), anchors=[Anchor(5, links[4].hash)])
    assert [(b.seq, b.reason) for b in breaks] == [(4, TRUNCATED), (5, TRUNCATED)]
    assert [(b.seq, b.reason) for b in verify_chain([], anchors=[Anchor(2, links[1].hash)])] == [
        (1, TRUNCATED),
        (2, TRUNCATED),
    ]


def test_a_tail_the_head_still_knows_is_reported_once() -> None:
    links = _chain(5)
    breaks = verify_chain(links[:3], head=ChainHead(5, links[4].hash, links[4].entry_id), anchors=[Anchor(5, "a" * 64)])
    assert [(b.entry_id, b.seq, b.reason) for b in breaks] == [("", 4, REMOVED), (links[4].entry_id, 5, REMOVED)]


def test_an_anchored_position_holding_another_entry_is_named() -> None:
    links = _chain(4)
    breaks = verify_chain(links, head=ChainHead(4, links[3].hash), anchors=[Anchor(4, "a" * 64)])
    assert [(b.entry_id, b.seq, b.reason) for b in breaks] == [(links[3].entry_id, 4, REPLACED)]


def test_the_head_of_an_intact_log_and_of_a_cut_one() -> None:
    links = _chain(3)
    assert head_breaks(links[2], ChainHead(3, links[2].hash)) == []
    assert head_breaks(None, ChainHead(0, GENESIS_HASH)) == []
    assert [b.seq for b in head_breaks(links[1], ChainHead(3, links[2].hash))] == [3]
    altered = StoredLink({**links[2].fields, "date": 1}, links[2].hash)
    assert [b.reason[:7] for b in head_breaks(altered, ChainHead(3, links[2].hash))] == ["altered"]


def _reference_content(entry: AuditEntry) -> dict[str, Any]:
    """What ``content`` was before it was written out by hand: ``asdict`` without the chain's fields."""
    data = dataclasses.asdict(entry)
    for name in ("seq", "prev_hash", "hash", "hash_version"):
        data.pop(name)
    if data["prev_id"] is None:
        del data["prev_id"]
    return data


@pytest.mark.parametrize("prev_id", [None, "e" * 24])
def test_an_entrys_document_is_every_field_but_its_place_in_the_chain(prev_id: str | None) -> None:
    entry = AuditEntry(
        id="a" * 24,
        date=5,
        kind="flag",
        name="Beta",
        description="d",
        short_description="s",
        title_verb="updated",
        accesses=[Access("updateOn", "proj/p:env/e:flag/beta")],
        actor=AuditActor(member_id="m" * 24, member_email="a@example.com", token_id="t", service_token=True),
        target_resources=["proj/p:env/e:flag/beta"],
        comment="c",
        previous={"on": False, "rules": [{"clauses": [1.5, None]}]},
        current={"on": True},
        delta=[{"kind": "turnFlagOn"}],
        approval_request_id="r" * 24,
        extra={"x": [1]},
        prev_id=prev_id,
    )
    content = entry.content()
    assert content == _reference_content(entry)
    assert list(content) == list(_reference_content(entry))  # the stored document's key order too
    assert {f.name for f in dataclasses.fields(AuditEntry)} - set(content) <= {
        "seq",
        "prev_hash",
        "hash",
        "hash_version",
        "prev_id",
    }
