"""The audit log's hash chain: sealing an entry, and verifying the stored log against itself, its
recorded head, and anchors kept elsewhere.

An entry's hash is ``sha256(prev_hash + canonical JSON of every other stored field)`` (hash version 2):
its document, the ``date`` and ``resources`` that paging and spec filters read, its id, its position
``seq``, its ``prev_hash`` and the version itself. A change to any of them no longer matches the hash,
and re-hashing an entry breaks its successor's link to it, so ``verify_chain`` names the entry.

Entries written before version 2 hashed their document only. They keep their hashes (re-hashing the
log on upgrade would bless whatever was altered before it), and their other fields are checked against
that document, which holds them all but ``seq``; their order is fixed by the links. Versions never
decrease along the chain, so a newer entry cannot be passed off as an old one.

A chain rewritten from some entry onwards, or cut at the tail with its recorded head rolled back, is
consistent with itself: only a head kept elsewhere (an :class:`Anchor`, ``SEQ:HASH`` as
``flagward audit head`` prints it) proves that the log still holds what it held then.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flagward.domain.audit import GENESIS_HASH, HASH_VERSION, AuditEntry

LEGACY_HASH_VERSION = 1

ALTERED = "altered: its content does not match its hash"
REHASHED = "altered: its hash was recomputed, so its successor no longer links to it"
REMOVED = "removed: the chain skips it"
DOWNGRADED = "altered: it claims an older hash version than the entry before it"
HEAD_BEHIND = "added: the chain's recorded head is behind this entry"
REPLACED = "altered: its hash is not the anchored one; the anchored entry was altered or removed"
TRUNCATED = "removed: the log ends before the anchored entry; its tail was cut"


def stored_fields(entry: AuditEntry) -> dict[str, Any]:
    """``entry`` as it is stored, one item per stored field, its hash aside: what version 2 hashes.

    Storage keeps exactly these fields (and the hash); a test holds the two sets equal.
    """
    return {
        "seq": entry.seq,
        "id": entry.id,
        "date": entry.date,
        "kind": entry.kind,
        "doc": entry.content(),
        "resources": "\n".join(entry.resources()),
        "prev_hash": entry.prev_hash,
        "hash_version": entry.hash_version,
    }


def chain_hash(content: Any, prev_hash: str) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def stored_hash(fields: Mapping[str, Any]) -> str:
    """The hash that ``fields`` (a stored entry but its hash) must carry, by its own hash version."""
    if fields["hash_version"] == LEGACY_HASH_VERSION:
        return chain_hash(fields["doc"], fields["prev_hash"])
    return chain_hash(_integral_floats_as_ints(dict(fields)), fields["prev_hash"])


def _integral_floats_as_ints(value: Any) -> Any:
    """``value`` with every integral float as an int, as it reads back from every store: PostgreSQL's
    JSONB keeps numbers as decimals, so ``1e20`` written comes back as the integer 10^20."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def seal(entry: AuditEntry, *, prev_hash: str, prev_id: str | None = None, prev_date: int | None = None) -> AuditEntry:
    """Link ``entry`` (its ``seq`` already set) after the entry ``prev_id`` (hash ``prev_hash``, date
    ``prev_date``) and hash it.

    The date moves to ``prev_date + 1`` when it is not later than that: entries written in the same
    millisecond, or by a transaction that read the clock before another committed, still get dates that
    increase with their position, which is what ``before``/``after`` paging relies on.
    """
    sealed_fields(entry, prev_hash=prev_hash, prev_id=prev_id, prev_date=prev_date)
    return entry


def sealed_fields(
    entry: AuditEntry, *, prev_hash: str, prev_id: str | None = None, prev_date: int | None = None
) -> dict[str, Any]:
    """``seal`` ``entry``, and return what is stored of it: its stored fields, and its hash."""
    if prev_date is not None and entry.date <= prev_date:
        entry.date = prev_date + 1
    entry.prev_id = prev_id
    entry.prev_hash = prev_hash
    entry.hash_version = HASH_VERSION
    fields = stored_fields(entry)
    entry.hash = stored_hash(fields)
    return {**fields, "hash": entry.hash}


@dataclass(frozen=True)
class StoredLink:
    """One stored entry as the chain sees it: every stored field but the hash (``fields``), and the hash."""

    fields: Mapping[str, Any]
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> StoredLink:
        return cls(stored_fields(entry), entry.hash)

    @property
    def seq(self) -> int:
        return int(self.fields["seq"])

    @property
    def entry_id(self) -> str:
        return str(self.fields["id"])

    @property
    def prev_hash(self) -> str:
        return str(self.fields["prev_hash"])

    @property
    def prev_id(self) -> str | None:
        doc = self.fields["doc"]
        prev_id = doc.get("prev_id") if isinstance(doc, dict) else None
        return prev_id if isinstance(prev_id, str) else None

    @property
    def version(self) -> int:
        version = self.fields["hash_version"]
        return version if isinstance(version, int) else 0


@dataclass(frozen=True)
class ChainBreak:
    entry_id: str  # "" when the id of a removed entry cannot be known
    seq: int
    reason: str


@dataclass(frozen=True)
class Anchor:
    """A head of the chain kept elsewhere: the log must still hold entry ``seq`` with hash ``hash``."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """``SEQ:HASH`` as ``flagward audit head`` prints it; raises ``ValueError`` otherwise."""
        match = re.fullmatch(r"(\d{1,19}):([0-9a-fA-F]{64})", text.strip())
        if match is None:
            raise ValueError(f"not an anchor: {text.strip()!r}; expected SEQ:HASH as `flagward audit head` prints it")
        anchor = cls(int(match[1]), match[2].lower())
        if anchor.seq == 0 and anchor.hash != GENESIS_HASH:
            raise ValueError(f"not an anchor: {text.strip()!r}; position 0 is the empty log, whose hash is all zeros")
        return anchor


@dataclass(frozen=True)
class ChainHead:
    """The last link as recorded on append: its seq, hash and (when recorded) entry id."""

    seq: int
    hash: str
    entry_id: str | None = None

    @property
    def anchor(self) -> Anchor:
        return Anchor(self.seq, self.hash)


def verify_chain(
    links: Iterable[StoredLink], *, head: ChainHead | None = None, anchors: Sequence[Anchor] = ()
) -> list[ChainBreak]:
    """Every altered, removed or replaced entry of ``links`` (all of the log, in ``seq`` order).

    An entry is altered when its stored fields no longer hash to its hash, or when its successor's link
    no longer matches it (it was re-hashed). A removed entry shows as a gap in ``seq``; the successor's
    ``prev_id`` names it (the ids of any others removed with it are unknown). ``head``, the last link as
    recorded on append, reveals a removed tail unless it was rolled back too; each of ``anchors`` must
    still be in the log, unchanged (the links after it then prove the rest up to the head).
    """
    breaks: list[ChainBreak] = []
    previous: StoredLink | None = None
    for link in links:
        breaks += _link_breaks(link, previous)
        breaks += [
            ChainBreak(link.entry_id, link.seq, REPLACED) for a in anchors if a.seq == link.seq and a.hash != link.hash
        ]
        previous = link
    if head is not None:
        breaks += _tail_breaks(previous, head)
    breaks += _truncation_breaks(previous, anchors, {b.seq for b in breaks if b.reason == REMOVED})
    return list(dict.fromkeys(breaks))


def head_breaks(last: StoredLink | None, head: ChainHead) -> list[ChainBreak]:
    """What is wrong with the chain's end: its last entry ``last`` and the head recorded on append."""
    breaks = _tail_breaks(last, head)
    reason = _tampered(last) if last is not None else None
    if last is not None and reason is not None:
        breaks.insert(0, ChainBreak(last.entry_id, last.seq, reason))
    return breaks


def _link_breaks(link: StoredLink, previous: StoredLink | None) -> list[ChainBreak]:
    breaks: list[ChainBreak] = []
    reason = _tampered(link)
    if reason is not None:
        breaks.append(ChainBreak(link.entry_id, link.seq, reason))
    prev_seq = previous.seq if previous else 0
    if link.seq > prev_seq + 1:
        breaks += _removed(prev_seq + 1, link.seq - 1, link.prev_id)
    elif previous is not None and link.prev_hash != previous.hash:
        breaks.append(ChainBreak(previous.entry_id, previous.seq, REHASHED))
    if previous is not None and link.version < previous.version:
        breaks.append(ChainBreak(link.entry_id, link.seq, DOWNGRADED))
    return breaks


def _tampered(link: StoredLink) -> str | None:
    """Why ``link`` does not match its own hash, or None when it does."""
    version = link.fields.get("hash_version")
    if version not in (LEGACY_HASH_VERSION, HASH_VERSION):
        return f"altered: unknown hash version {version!r}"
    try:
        if stored_hash(link.fields) != link.hash:
            return ALTERED
    except (KeyError, TypeError, ValueError):
        return ALTERED
    if version == LEGACY_HASH_VERSION:
        stale = _legacy_mismatches(link.fields)
        if stale:
            return f"altered: its {', '.join(stale)} no longer match its hashed content"
    return None


def _legacy_mismatches(fields: Mapping[str, Any]) -> list[str]:
    """The stored fields of a version-1 entry that differ from its (hashed) document."""
    doc = fields["doc"]
    try:
        expected = {
            "id": doc["id"],
            "date": doc["date"],
            "kind": doc["kind"],
            "resources": "\n".join([*doc["target_resources"], *(a["resource"] for a in doc["accesses"])]),
        }
    except (KeyError, TypeError):
        return ["document"]
    return [name for name, value in expected.items() if fields.get(name) != value]


def _tail_breaks(last: StoredLink | None, head: ChainHead) -> list[ChainBreak]:
    """The log's last entry against the head recorded on append."""
    last_seq = last.seq if last is not None else 0
    if last_seq < head.seq:
        return _removed(last_seq + 1, head.seq, head.entry_id)
    if last is None:
        return []
    if last_seq > head.seq:
        return [ChainBreak(last.entry_id, last.seq, HEAD_BEHIND)]
    if last.hash != head.hash:
        return [ChainBreak(last.entry_id, last.seq, REHASHED)]
    return []


def _truncation_breaks(last: StoredLink | None, anchors: Sequence[Anchor], reported: set[int]) -> list[ChainBreak]:
    """The positions between the log's end and each anchor beyond it, unless already reported removed."""
    end = last.seq if last is not None else 0
    furthest = max((a.seq for a in anchors), default=0)
    return [ChainBreak("", seq, TRUNCATED) for seq in range(end + 1, furthest + 1) if seq not in reported]


def _removed(first: int, last: int, last_id: str | None) -> list[ChainBreak]:
    """Entries ``first``..``last`` are gone; only the last one's id is known (``last_id``)."""
    return [ChainBreak((last_id or "") if seq == last else "", seq, REMOVED) for seq in range(first, last + 1)]
