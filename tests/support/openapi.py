"""LaunchDarkly's OpenAPI document, and validation of flagward's responses against it.

The document is read once per process (``yaml.CSafeLoader`` takes over a second on 2.8 MB, so a pickled
copy keyed by the file's path, size and mtime is kept in the temporary directory). Response schemas are
validated with OpenAPI 3.0 semantics (``nullable`` and friends) by ``OAS30Validator``; ``$ref``s resolve
inside the document through a ``referencing`` registry, so recursive schemas need no inlining.

The document's location comes from ``FLAGWARD_LD_OPENAPI``, by default the gzip'd copy vendored in
``tests/data/launchdarkly-openapi.yaml.gz``. When it is missing, ``load_spec`` raises
``SpecUnavailable``: validation tests fail, they never skip.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import pickle
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_ENV = "FLAGWARD_LD_OPENAPI"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO_ROOT / "tests" / "data" / "launchdarkly-openapi.yaml.gz"
_SPEC_URI = "urn:launchdarkly:openapi"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# Error statuses an operation may answer without declaring them (every LaunchDarkly endpoint can be
# refused, for instance): their body must still be LaunchDarkly's error representation of that status.
ERROR_SCHEMAS = {
    400: "InvalidRequestErrorRep",
    401: "UnauthorizedErrorRep",
    403: "ForbiddenErrorRep",
    404: "NotFoundErrorRep",
    405: "MethodNotAllowedErrorRep",
    409: "StatusConflictErrorRep",
    429: "RateLimitedErrorRep",
}


class SpecUnavailable(RuntimeError):
    """The LaunchDarkly OpenAPI document could not be found or read."""


def spec_path() -> Path:
    configured = os.environ.get(SPEC_ENV)
    return Path(configured).expanduser().resolve() if configured else DEFAULT_SPEC


def _cache_file(path: Path) -> Path:
    stat = path.stat()
    tag = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"flagward-ld-openapi-{tag}.pickle"


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpecUnavailable(f"LaunchDarkly's OpenAPI document is missing at {path}; set {SPEC_ENV} to its location")
    cache = _cache_file(path)
    if cache.is_file():
        try:
            with cache.open("rb") as fh:
                cached: dict[str, Any] = pickle.load(fh)
            return cached
        except (OSError, pickle.UnpicklingError, EOFError):
            pass  # a torn or stale cache: read the YAML again
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        document = yaml.load(fh, Loader=yaml.CSafeLoader)
    if not isinstance(document, dict) or "paths" not in document:
        raise SpecUnavailable(f"{path} is not an OpenAPI document")
    partial = cache.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as fh:
        pickle.dump(document, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, cache)  # atomic, so concurrent test processes never read half a file
    return document


def _pointer_part(value: str) -> str:
    return value.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Operation:
    method: str  # lower case, as the document spells it
    template: str  # "/api/v2/projects/{projectKey}"
    operation_id: str
    definition: dict[str, Any]

    @property
    def pointer(self) -> str:
        return f"/paths/{_pointer_part(self.template)}/{self.method}"


@dataclass(frozen=True)
class _Template:
    template: str
    pattern: re.Pattern[str]
    literals: int


class Spec:
    """The OpenAPI document, with path matching and response validation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._templates = sorted((self._compile(t) for t in document["paths"]), key=lambda t: (-t.literals, t.template))
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)

    @staticmethod
    def _compile(template: str) -> _Template:
        parts = template.strip("/").split("/")
        regex = "/".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        literals = sum(1 for p in parts if not p.startswith("{"))
        return _Template(template, re.compile(f"^/{regex}/?$"), literals)

    def resolve(self, ref: str) -> Any:
        """The value a local ``$ref`` (``#/components/schemas/Project``) points to."""
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def operation(self, method: str, url: str) -> Operation:
        """The documented operation serving ``method`` on a concrete ``url`` (query string ignored).
        Templates with more literal segments win, so ``…/environments/{k}/apiKey`` beats ``…/{a}/{b}``.
        Raises LookupError when the document has none."""
        path = urlsplit(url).path
        verb = method.lower()
        for template in self._templates:
            if template.pattern.match(path):
                item = self.document["paths"][template.template]
                if verb in item:
                    definition = item[verb]
                    return Operation(verb, template.template, definition.get("operationId", ""), definition)
        raise LookupError(f"LaunchDarkly's API documents no {method.upper()} {path}")

    def response_schema_pointer(self, operation: Operation, status: int) -> str | None:
        """A JSON pointer to the schema of ``status``'s JSON body; None when the status has no body.
        Raises LookupError when the operation does not declare ``status`` and it is no known error."""
        responses = operation.definition.get("responses", {})
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
        if key not in responses:
            if status in ERROR_SCHEMAS:
                return f"/components/schemas/{ERROR_SCHEMAS[status]}"
            raise LookupError(
                f"{operation.operation_id} ({operation.method.upper()} {operation.template}) does not "
                f"declare status {status}; it declares {', '.join(sorted(responses))}"
            )
        response = responses[key]
        base = f"{operation.pointer}/responses/{key}"
        if "$ref" in response:
            base = response["$ref"].removeprefix("#")
            response = self.resolve(response["$ref"])
        content = response.get("content") or {}
        if not content:
            return None
        media = "application/json" if "application/json" in content else next(iter(content))
        if "schema" not in content[media]:
            return None
        return f"{base}/content/{_pointer_part(media)}/schema"

    @functools.cache  # noqa: B019 - one Spec lives for the whole session
    def _validator(self, pointer: str) -> OAS30Validator:
        return OAS30Validator(
            {"$ref": f"{_SPEC_URI}#{pointer}"}, registry=self._registry, format_checker=oas30_format_checker
        )

    def problems(self, method: str, url: str, status: int, body: bytes, content_type: str | None) -> list[str]:
        """Everything wrong with one response, as readable lines; empty when it conforms."""
        try:
            operation = self.operation(method, url)
            pointer = self.response_schema_pointer(operation, status)
        except LookupError as exc:
            return [str(exc)]
        where = f"{method.upper()} {url} -> {status} ({operation.operation_id})"
        if pointer is None:
            return [f"{where}: expected no body, got {body[:200]!r}"] if body.strip() else []
        if not (content_type or "").startswith("application/json"):
            return [f"{where}: expected application/json, got {content_type!r}"]
        try:
            instance = json.loads(body)
        except ValueError as exc:
            return [f"{where}: body is not JSON ({exc}): {body[:200]!r}"]
        errors = sorted(self._validator(pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [
            f"{where}: at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]} (schema {pointer})" for e in errors
        ]


@functools.cache
def load_spec() -> Spec:
    """The session's Spec. Raises SpecUnavailable when the document is absent."""
    return Spec(_read(spec_path()))


@functools.cache
def flagward_spec() -> Spec:
    """flagward's own document (``GET /openapi.json``), built from an app on fakes: it depends on the routes only."""
    from flagward.config import Settings
    from flagward.http.app import create_app
    from tests.fakes import fake_deps

    return Spec(create_app(Settings(database_url="sqlite://"), fake_deps()[0]).openapi())


def undeclared(spec: Spec, method: str, url: str, status: int) -> list[str]:
    """A line when ``spec`` does not declare ``status`` for the operation serving ``method url``."""
    try:
        operation = spec.operation(method, url)
    except LookupError as exc:
        return [str(exc)]
    if str(status) in operation.definition.get("responses", {}):
        return []
    return [f"{method.upper()} {url} -> {status}: {operation.operation_id} does not declare {status}"]
