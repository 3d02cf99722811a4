"""Loader for LaunchDarkly's SDK test-harness evaluation vectors (``sdk-eval-vectors/*/*.yml``).

``load_vector_files(directory)`` returns one :class:`VectorFile` per file and parameter set, exactly as the
harness expands them (``docs/data_files.md``, ``data/substitutions.go``): the YAML *text* is substituted
with constants, then parameters, then constants again; ``"<NAME>"`` in quotes becomes the JSON value and
a bare ``<NAME>`` is interpolated (strings without quotes); a ``parameters`` list of lists expands to every
permutation, the first list varying fastest. YAML is read with YAML 1.2 booleans (``on:`` is a key, not
``true``) and no implicit timestamps, as the harness's Go parser does.

Server-side files: ``sdk_data`` is ``{"flags": {...}, "segments": {...}}`` normalized like the harness
(``mockld`` ``normalizeFlag``): ``key`` from the map key, ``version`` 1 when 0 or missing, and the arrays
and strings the SDK requires filled in (``values: []``, ``clauses: []``, ``attribute: ""`` ...).

Client-side files hold evaluated results (``{flagKey: {value, variation, version, reason}}``) in
``client_results``. For them ``sdk_data`` holds *synthesized* server-side flags that evaluate to those
results (see :func:`synthesize_flag`), so the same files can drive a server's evalx endpoints. Two results
cannot come from flag data alone and are synthesized as the closest thing a server can produce:
an ``ERROR`` reason never comes with a value from a server, and ``EXCEPTION`` is produced by a flag whose
prerequisite is :data:`EXCEPTION_PREREQUISITE_KEY`, for which a test store getter must raise.

Importable by integration tests as ``tests.unit.domain.evaluation.vectors``.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flagward.domain.evaluation import Context, ContextError

__all__ = [
    "EXCEPTION_PREREQUISITE_KEY",
    "VECTORS_ROOT",
    "VectorEvaluation",
    "VectorExpectation",
    "VectorFile",
    "canonical_reason",
    "load_vector_files",
    "normalize_flag",
    "normalize_segment",
    "resolve_default",
    "synthesize_flag",
    "typed_result",
]

#: Where the vectors live (vendored, Apache-2.0, see LICENSE.txt there); override with FLAGWARD_SDK_EVAL_VECTORS.
VECTORS_ROOT = Path(
    os.environ.get("FLAGWARD_SDK_EVAL_VECTORS", str(Path(__file__).resolve().parents[3] / "data" / "sdk-eval-vectors"))
)

#: A synthesized client-side flag with this prerequisite stands for "the server hit an exception".
EXCEPTION_PREREQUISITE_KEY = "flagward-vectors-store-raises"


@dataclass(frozen=True)
class VectorExpectation:
    value: Any
    variation_index: int | None
    reason: dict[str, Any]


@dataclass(frozen=True)
class VectorEvaluation:
    name: str
    flag_key: str
    context: Any
    default: Any
    value_type: str | None
    expect: VectorExpectation


@dataclass(frozen=True)
class VectorFile:
    name: str
    source: str
    params: dict[str, Any]
    side: str  # "server" or "client"
    sdk_data: dict[str, dict[str, Any]]
    evaluations: tuple[VectorEvaluation, ...]
    client_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    require_capability: str | None = None
    skip_evaluate_all_flags: bool = False


# --------------------------------------------------------------------------------------------------
# YAML and substitutions


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's yes/no/on/off booleans and implicit timestamps."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader subclass: no arbitrary objects


def _substitute(text: str, substitutions: dict[str, Any]) -> str:
    for name, value in substitutions.items():
        typed = json.dumps(value)
        text = text.replace(f'"<{name}>"', typed)
        text = text.replace(f"<{name}>", value if isinstance(value, str) else typed)
    return text


def _parameter_sets(parameters: list[Any]) -> list[dict[str, Any]]:
    if not parameters:
        return []
    if isinstance(parameters[0], dict):
        return [dict(p) for p in parameters]
    sets: list[dict[str, Any]] = []
    # itertools.product varies the *last* list fastest; the harness varies the first fastest.
    for combo in itertools.product(*reversed(parameters)):
        merged: dict[str, Any] = {}
        for part in reversed(combo):
            merged.update(part)
        sets.append(merged)
    return sets


def _expand(text: str) -> list[tuple[dict[str, Any], Any]]:
    original = _load_yaml(text) or {}
    constants = original.get("constants") or {}
    param_sets = _parameter_sets(original.get("parameters") or [])
    if not constants and not param_sets:
        return [({}, original)]
    if not param_sets:
        return [({}, _load_yaml(_substitute(text, constants)))]
    out = []
    for params in param_sets:
        expanded = _substitute(_substitute(_substitute(text, constants), params), constants)
        out.append((params, _load_yaml(expanded)))
    return out


# --------------------------------------------------------------------------------------------------
# Normalization (what the harness does before serving data to an SDK)


def _fill_clause(clause: dict[str, Any]) -> None:
    clause.setdefault("attribute", "")
    clause.setdefault("op", "")
    if clause.get("values") is None:
        clause["values"] = []


def _fill_list(data: dict[str, Any], name: str) -> list[Any]:
    if data.get(name) is None:
        data[name] = []
    value: list[Any] = data[name]
    return value


def _fill_rollout(holder: dict[str, Any] | None) -> None:
    if isinstance(holder, dict) and isinstance(holder.get("rollout"), dict):
        _fill_list(holder["rollout"], "variations")


def normalize_flag(key: str, flag: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``flag`` with ``key``, ``version`` and required fields set as the harness sends it."""
    out = copy.deepcopy(flag)
    out["key"] = key
    if not out.get("version"):
        out["version"] = 1
    out.setdefault("salt", "")
    _fill_list(out, "variations")
    _fill_list(out, "prerequisites")
    for target in _fill_list(out, "targets") + _fill_list(out, "contextTargets"):
        _fill_list(target, "values")
    for rule in _fill_list(out, "rules"):
        for clause in _fill_list(rule, "clauses"):
            _fill_clause(clause)
        _fill_rollout(rule)
    _fill_rollout(out.get("fallthrough"))
    return out


def normalize_segment(key: str, segment: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``segment`` with ``key``, ``version`` and required fields set."""
    out = copy.deepcopy(segment)
    out["key"] = key
    if not out.get("version"):
        out["version"] = 1
    out.setdefault("salt", "")
    _fill_list(out, "included")
    _fill_list(out, "excluded")
    for target in _fill_list(out, "includedContexts") + _fill_list(out, "excludedContexts"):
        _fill_list(target, "values")
    for rule in _fill_list(out, "rules"):
        for clause in _fill_list(rule, "clauses"):
            _fill_clause(clause)
    return out


# --------------------------------------------------------------------------------------------------
# Client-side results


def canonical_reason(reason: dict[str, Any] | None) -> dict[str, Any]:
    """``reasons.yml`` spells two fields unlike the SDK wire format (``isExperiment``, ``prereqKey``).

    The harness passes reasons through Go ``ldreason``, which would silently drop those unknown names;
    we read them as the fields they obviously mean (``inExperiment``, ``prerequisiteKey``) instead, so
    the intended reason is what gets asserted.
    """
    out = dict(reason or {})
    if "isExperiment" in out:
        out["inExperiment"] = out.pop("isExperiment")
    if "prereqKey" in out:
        out["prerequisiteKey"] = out.pop("prereqKey")
    if out.get("inExperiment") is False:
        del out["inExperiment"]
    return out


def synthesize_flag(key: str, result: dict[str, Any], context: Any) -> dict[str, Any]:
    """A server-side flag that evaluates, for ``context``, to the evaluated client-side ``result``."""
    variation = result.get("variation")
    index = variation if isinstance(variation, int) else 0
    reason = canonical_reason(result.get("reason") or {"kind": "FALLTHROUGH"})
    flag: dict[str, Any] = {
        "key": key,
        "version": result.get("version") or 1,
        "on": True,
        "variations": [result.get("value")] * (index + 1),
        "offVariation": index,
        "fallthrough": {"variation": index},
        "salt": "",
    }
    kind = reason.get("kind")
    if kind == "OFF":
        flag["on"] = False
    elif kind == "TARGET_MATCH":
        individual = Context.from_dict(context).individuals[0]
        entry = {"variation": index, "values": [individual.key]}
        if individual.kind == "user":
            flag["targets"] = [entry]
        else:
            flag["contextTargets"] = [{**entry, "contextKind": individual.kind}]
    elif kind == "RULE_MATCH":
        never = {"attribute": "key", "op": "in", "values": []}
        always = {"attribute": "key", "op": "in", "values": [""], "negate": True}
        rules: list[dict[str, Any]] = [
            {"id": f"never-{i}", "variation": index, "clauses": [never]} for i in range(reason["ruleIndex"])
        ]
        rules.append({"id": reason.get("ruleId"), "variation": index, "clauses": [always]})
        flag["rules"] = rules
    elif kind == "PREREQUISITE_FAILED":
        flag["prerequisites"] = [{"key": reason["prerequisiteKey"], "variation": 0}]  # absent flag: fails
    elif kind == "ERROR" and reason.get("errorKind") == "EXCEPTION":
        flag["prerequisites"] = [{"key": EXCEPTION_PREREQUISITE_KEY, "variation": 0}]
    elif kind == "ERROR":
        flag["fallthrough"] = {"variation": index + 1}  # out of range: MALFORMED_FLAG
    if reason.get("inExperiment"):
        experiment = {"rollout": {"kind": "experiment", "variations": [{"variation": index, "weight": 100000}]}}
        if kind == "RULE_MATCH":
            flag["rules"][-1] = {**flag["rules"][-1], **experiment}
            del flag["rules"][-1]["variation"]
        else:
            flag["fallthrough"] = experiment
    return normalize_flag(key, flag)


# --------------------------------------------------------------------------------------------------
# Harness behaviour around an evaluation


def resolve_default(vector: VectorFile, evaluation: VectorEvaluation) -> tuple[Any, str]:
    """The default value and value type the harness really passes (``makeEvalFlagParams``).

    A null default is inferred from the flag's first variation (``false``, ``0``, ``""`` or null); a
    missing value type is inferred from the default's JSON type.
    """
    default = evaluation.default
    if default is None:
        flag = vector.sdk_data["flags"].get(evaluation.flag_key)
        sample: Any = None
        if vector.side == "client" and evaluation.flag_key in vector.client_results:
            sample = vector.client_results[evaluation.flag_key].get("value")
        elif flag and flag.get("variations"):
            sample = flag["variations"][0]
        default = {bool: False, int: 0, float: 0, str: ""}.get(type(sample))
    value_type = evaluation.value_type
    if value_type is None:
        if isinstance(default, bool):
            value_type = "bool"
        elif isinstance(default, int | float):
            value_type = "int" if isinstance(evaluation.default, int) else "double"
        elif isinstance(default, str):
            value_type = "string"
        else:
            value_type = "any"
    return default, value_type


def typed_result(
    value: Any, variation_index: int | None, reason: dict[str, Any], value_type: str, default: Any
) -> tuple[Any, int | None, dict[str, Any]]:
    """What an SDK's typed ``*VariationDetail`` returns for an evaluation result.

    No variation -> the default (reason kept). A value of the wrong JSON type for ``value_type`` ->
    the default with ``ERROR/WRONG_TYPE``. This is SDK behaviour, not evaluator behaviour.
    """
    if variation_index is None:
        return default, None, reason
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int | float) and not isinstance(value, bool),
        "double": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
    }.get(value_type, True)
    if not ok:
        return default, None, {"kind": "ERROR", "errorKind": "WRONG_TYPE"}
    return value, variation_index, reason


# --------------------------------------------------------------------------------------------------


def _evaluations(doc: dict[str, Any]) -> tuple[VectorEvaluation, ...]:
    out = []
    for ev in doc.get("evaluations") or []:
        expect = ev.get("expect") or {}
        out.append(
            VectorEvaluation(
                name=str(ev.get("name") or ev["flagKey"]),
                flag_key=ev["flagKey"],
                context=ev["context"] if "context" in ev else doc.get("context"),
                default=ev.get("default"),
                value_type=ev.get("valueType"),
                expect=VectorExpectation(expect.get("value"), expect.get("variationIndex"), expect.get("reason") or {}),
            )
        )
    return tuple(out)


def _server_data(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    flags = raw.get("flags") or {}
    segments = raw.get("segments") or {}
    return {
        "flags": {k: normalize_flag(k, v) for k, v in flags.items()},
        "segments": {k: normalize_segment(k, v) for k, v in segments.items()},
    }


def _client_data(raw: dict[str, Any], context: Any) -> dict[str, dict[str, Any]]:
    try:
        Context.from_dict(context)
    except ContextError:
        context = {"kind": "user", "key": "user-key"}
    return {"flags": {k: synthesize_flag(k, v, context) for k, v in raw.items()}, "segments": {}}


def load_vector_files(directory: str | Path) -> list[VectorFile]:
    """Every ``*.yml``/``*.yaml``/``*.json`` file in ``directory``, sorted, expanded into parameter sets.

    A directory whose name contains ``client-side`` is read as client-side data (see the module doc).
    """
    root = Path(directory)
    side = "client" if "client-side" in root.name else "server"
    files = sorted(p for p in root.iterdir() if p.suffix in (".yml", ".yaml", ".json"))
    out: list[VectorFile] = []
    for path in files:
        for params, doc in _expand(path.read_text(encoding="utf-8")):
            raw = doc.get("sdkData") or {}
            client_results = raw if side == "client" else {}
            sdk_data = _client_data(raw, doc.get("context")) if side == "client" else _server_data(raw)
            out.append(
                VectorFile(
                    name=str(doc.get("name") or path.stem),
                    source=f"{root.name}/{path.name}",
                    params=params,
                    side=side,
                    sdk_data=sdk_data,
                    evaluations=_evaluations(doc),
                    client_results=client_results,
                    require_capability=doc.get("requireCapability"),
                    skip_evaluate_all_flags=bool(doc.get("skipEvaluateAllFlags")),
                )
            )
    return out
