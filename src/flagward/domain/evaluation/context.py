"""Evaluation contexts and attribute references, as LaunchDarkly SDKs define them.

A :class:`Context` is parsed once per request from its JSON form and is then read many times by the
evaluator, so parsing does all the work up front: every individual context gets a single attribute table
(built-ins and custom attributes together) and a multi-context gets a ``kind -> context`` index.

Three JSON shapes are accepted by :meth:`Context.from_dict`:

* a single-kind context: ``{"kind": "org", "key": "o1", "name": ..., "anonymous": ..., **attrs}``
  (plus ``_meta.privateAttributes``);
* a multi-kind context: ``{"kind": "multi", "org": {...}, "user": {...}}``;
* the pre-context user shape without ``kind``: ``{"key": ..., "name": ..., "custom": {...}, ...}``.

Validity follows the SDKs (``ldclient.Context`` for the first two shapes, Go ``ldcontext`` for the old user
shape, which 9.x Python no longer parses); anything invalid raises :class:`ContextError`, which an SDK would
report as ``USER_NOT_SPECIFIED``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, NoReturn, cast

__all__ = ["DEFAULT_KIND", "MULTI_KIND", "AttrRef", "Context", "ContextError"]

DEFAULT_KIND: Final = "user"
MULTI_KIND: Final = "multi"

_INVALID_KIND_CHARS: Final = re.compile(r"[^-a-zA-Z0-9._]")
_INVALID_ESCAPE: Final = re.compile(r"~[^01]|~$")
# Old user shape: top-level string attributes that are kept (everything else outside "custom" is ignored).
_OLD_USER_STRING_ATTRS: Final = frozenset({"firstName", "lastName", "email", "country", "avatar", "ip"})
_BUILTIN_NAMES: Final = frozenset({"kind", "key", "name", "anonymous", "_meta"})


class ContextError(ValueError):
    """The context data is not a valid LaunchDarkly context (the SDK's ``USER_NOT_SPECIFIED`` error)."""


def _fail(message: str) -> NoReturn:
    raise ContextError(message)


# --------------------------------------------------------------------------------------------------
# Attribute references


@dataclass(frozen=True, slots=True)
class AttrRef:
    """A parsed attribute reference: a top-level ``name`` plus a (possibly empty) ``path`` of nested keys.

    An invalid reference keeps ``error`` set; evaluating a clause that uses it is a ``MALFORMED_FLAG``.
    """

    raw: str
    name: str
    path: tuple[str, ...] = ()
    error: str | None = None

    @staticmethod
    def literal(name: str) -> AttrRef:
        """A reference to the top-level attribute called exactly ``name`` (no path syntax)."""
        if name == "":
            return AttrRef("", "", (), "attribute reference cannot be empty")
        # ``raw`` is always in path syntax, so a literal name starting with "/" is escaped.
        raw = "/" + name.replace("~", "~0").replace("/", "~1") if name[0] == "/" else name
        return AttrRef(raw, name)

    @staticmethod
    def parse_path(ref: str) -> AttrRef:
        """Parse ``/a/b`` path syntax (``~1`` is ``/``, ``~0`` is ``~``); a string without ``/`` is a name."""
        if ref in ("", "/"):
            return AttrRef(ref, "", (), "attribute reference cannot be empty")
        if ref[0] != "/":
            return AttrRef(ref, ref)
        parts = ref[1:].split("/")
        for part in parts:
            if part == "":
                return AttrRef(ref, "", (), "attribute reference has an empty path component")
            if _INVALID_ESCAPE.search(part):
                return AttrRef(ref, "", (), "attribute reference has a '~' not followed by 0 or 1")
        names = [p.replace("~1", "/").replace("~0", "~") for p in parts]
        return AttrRef(ref, names[0], tuple(names[1:]))

    @staticmethod
    def for_clause(attribute: str, context_kind: str | None) -> AttrRef:
        """The SDK rule: without a ``contextKind`` the string is a literal name (old user model)."""
        if context_kind is None or context_kind == "":
            return AttrRef.literal(attribute)
        return AttrRef.parse_path(attribute)

    @property
    def is_kind(self) -> bool:
        """True for the depth-1 reference to ``kind``, which clauses match against every context kind."""
        return self.error is None and self.name == "kind" and not self.path


# --------------------------------------------------------------------------------------------------
# Contexts


class Context:
    """An immutable, validated evaluation context (single-kind or multi-kind).

    For a single context, ``individuals`` is ``(self,)``; for a multi-context it holds the individual
    contexts sorted by kind, and ``kind`` is ``"multi"``, ``key`` is ``""``. ``by_kind`` maps each kind to
    its individual context. ``table`` is the attribute lookup used by the evaluator: custom attributes plus
    ``kind``, ``key``, ``anonymous`` (always a bool) and ``name`` (when set). Nested JSON values are shared
    with the parsed input, not copied: callers must not mutate the dict they parsed.
    """

    __slots__ = (
        "anonymous",
        "attributes",
        "by_kind",
        "fully_qualified_key",
        "individuals",
        "key",
        "kind",
        "memo",
        "name",
        "private_attributes",
        "table",
    )

    kind: str
    key: str
    name: str | None
    anonymous: bool
    attributes: Mapping[str, Any]
    private_attributes: tuple[str, ...]
    individuals: tuple[Context, ...]
    by_kind: Mapping[str, Context]
    table: Mapping[str, Any]
    fully_qualified_key: str
    memo: dict[str, Any]

    def __init__(
        self,
        kind: str,
        key: str,
        *,
        name: str | None = None,
        anonymous: bool = False,
        attributes: Mapping[str, Any] | None = None,
        private_attributes: Iterable[str] = (),
        _multi: tuple[Context, ...] | None = None,
    ) -> None:
        """Build a context without validation; use :meth:`from_dict`, :meth:`create` or :meth:`multi`."""
        attrs = dict(attributes or {})
        setter = object.__setattr__
        setter(self, "kind", kind)
        setter(self, "key", key)
        setter(self, "name", name)
        setter(self, "anonymous", anonymous)
        setter(self, "attributes", MappingProxyType(attrs))
        setter(self, "private_attributes", tuple(private_attributes))
        if _multi is None:
            table = dict(attrs)
            table["kind"] = kind
            table["key"] = key
            table["anonymous"] = anonymous
            if name is not None:
                table["name"] = name
            setter(self, "individuals", (self,))
            setter(self, "by_kind", {kind: self})
            setter(self, "table", table)
            fqk = key if kind == DEFAULT_KIND else f"{kind}:{_escape_fqk(key)}"
        else:
            setter(self, "individuals", _multi)
            setter(self, "by_kind", {c.kind: c for c in _multi})
            setter(self, "table", {"kind": MULTI_KIND, "key": "", "anonymous": False})
            fqk = ":".join(f"{c.kind}:{_escape_fqk(c.key)}" for c in _multi)
        setter(self, "fully_qualified_key", fqk)
        # The evaluator's: plain segments' membership of this context, by segment key (see CompiledSegment.plain).
        setter(self, "memo", {})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Context is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Context is immutable")

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def create(cls, key: str, kind: str = DEFAULT_KIND) -> Context:
        """A single context with only a key; raises :class:`ContextError` if kind or key is invalid."""
        _check_kind(kind)
        if not isinstance(key, str) or key == "":
            _fail("context key must be a non-empty string")
        return cls(kind, key)

    @classmethod
    def multi(cls, *contexts: Context) -> Context:
        """Combine contexts (multi-contexts are flattened); one context is returned as itself."""
        flat = [c for ctx in contexts for c in ctx.individuals]
        if not flat:
            _fail("multi-context must contain at least one kind")
        if len(flat) == 1:
            return flat[0]
        flat.sort(key=lambda c: c.kind)
        for prev, cur in itertools.pairwise(flat):
            if prev.kind == cur.kind:
                _fail(f"multi-context cannot have kind {cur.kind!r} more than once")
        return cls(MULTI_KIND, "", _multi=tuple(flat))

    @classmethod
    def from_dict(cls, data: object) -> Context:
        """Parse the JSON form of a context; raises :class:`ContextError` when it is invalid."""
        if not isinstance(data, Mapping):
            _fail("context must be a JSON object")
        if "kind" not in data:
            return _parse_old_user(data)
        kind = data["kind"]
        if not isinstance(kind, str):
            _fail('invalid data type for "kind"')
        if kind != MULTI_KIND:
            return _parse_single(data, kind)
        parts: list[Context] = []
        for name, value in data.items():
            if name == "kind":
                continue
            if not isinstance(value, Mapping):
                _fail(f"invalid data type for {name!r}")
            parts.append(_parse_single(value, name))
        return cls.multi(*parts)

    # -- reading ------------------------------------------------------------------------------------

    @property
    def is_multi(self) -> bool:
        return self.kind == MULTI_KIND

    def get(self, attribute: str) -> Any:
        """The value of a top-level attribute (built-ins included), or None when it is not set."""
        return self.table.get(attribute)

    def individual(self, kind: str) -> Context | None:
        """The individual context of ``kind``, or None."""
        return self.by_kind.get(kind)

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (``kind`` always present; old user shapes come out in the new form)."""
        if self.is_multi:
            out: dict[str, Any] = {"kind": MULTI_KIND}
            for c in self.individuals:
                single = c.to_dict()
                del single["kind"]
                out[c.kind] = single
            return out
        out = {"kind": self.kind, "key": self.key}
        if self.name is not None:
            out["name"] = self.name
        if self.anonymous:
            out["anonymous"] = True
        out.update(self.attributes)
        if self.private_attributes:
            out["_meta"] = {"privateAttributes": list(self.private_attributes)}
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # attribute values may be unhashable JSON

    def __repr__(self) -> str:
        return f"Context({self.to_dict()!r})"


def _escape_fqk(key: str) -> str:
    return key.replace("%", "%25").replace(":", "%3A")


def _check_kind(kind: object) -> None:
    if not isinstance(kind, str):
        _fail('invalid data type for "kind"')
    if kind == "":
        _fail("context kind must not be empty")
    if kind in ("kind", MULTI_KIND):
        _fail(f"{kind!r} is not a valid context kind")
    if _INVALID_KIND_CHARS.search(kind):
        _fail("context kind contains disallowed characters")


def _parse_single(data: Mapping[str, Any], kind: object) -> Context:
    """One single-kind context; mirrors ``ldclient.Context.from_dict`` (a ``kind`` property wins)."""
    key: object = None
    name: str | None = None
    anonymous = False
    attrs: dict[str, Any] = {}
    private: list[str] = []
    for prop, value in data.items():
        if prop == "kind":
            kind = value
        elif prop == "key":
            if not isinstance(value, str):
                _fail('invalid data type for "key"')
            key = value
        elif prop == "name":
            if value is not None and not isinstance(value, str):
                _fail('invalid data type for "name"')
            name = value
        elif prop == "anonymous":
            # The Python SDK rejects null here too (Go ignores it); we follow the Python SDK.
            if not isinstance(value, bool):
                _fail('invalid data type for "anonymous"')
            anonymous = value
        elif prop == "_meta":
            private.extend(_parse_meta(value))
        elif prop == "":
            _fail("attribute name must not be empty")
        elif value is None:
            attrs.pop(prop, None)  # null means "not set"
        else:
            attrs[prop] = value
    _check_kind(kind)
    if not isinstance(key, str) or key == "":
        _fail("context key must be a non-empty string")
    return Context(cast(str, kind), key, name=name, anonymous=anonymous, attributes=attrs, private_attributes=private)


def _parse_meta(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        _fail('invalid data type for "_meta"')
    private = value.get("privateAttributes")
    if private is None:
        return []
    if not isinstance(private, list) or not all(isinstance(p, str) for p in private):
        _fail('invalid data type for "privateAttributes"')
    return list(private)


def _parse_old_user(data: Mapping[str, Any]) -> Context:
    """The pre-context user shape, as Go ``ldcontext`` reads it: the key is required but may be empty."""
    if "key" not in data or not isinstance(data["key"], str):
        _fail("old-style user must have a string key")
    name: str | None = None
    anonymous = False
    attrs: dict[str, Any] = {}
    private: list[str] = []
    for prop, value in data.items():
        if prop in _OLD_USER_STRING_ATTRS or prop in ("name", "secondary"):
            if value is not None and not isinstance(value, str):
                _fail(f"invalid data type for {prop!r}")
            if prop == "name":
                name = value
            elif prop != "secondary" and value is not None:
                attrs[prop] = value
        elif prop == "anonymous":
            if value is not None and not isinstance(value, bool):
                _fail('invalid data type for "anonymous"')
            anonymous = bool(value)
        elif prop == "custom":
            if value is None:
                continue
            if not isinstance(value, Mapping):
                _fail('invalid data type for "custom"')
            for cname, cvalue in value.items():
                # Built-in names cannot be overridden from "custom" (that would re-kind or re-key the user).
                if cname in _BUILTIN_NAMES or cname == "" or cvalue is None:
                    continue
                attrs[cname] = cvalue
        elif prop == "privateAttributeNames":
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                _fail('invalid data type for "privateAttributeNames"')
            # Old-style private names are literal names; keep them as references like the new shape.
            private.extend(AttrRef.literal(p).raw for p in value if p)
        # "key" is read above; any other top-level property is ignored in this shape.
    return Context(
        DEFAULT_KIND,
        data["key"],
        name=name,
        anonymous=anonymous,
        attributes=attrs,
        private_attributes=private,
    )
