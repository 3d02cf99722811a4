"""An audit entry's diff: a flag's targeting part by part, every other field as path/before/after, and
no bookkeeping (versions, dates, links)."""

from __future__ import annotations

import copy
from typing import Any

from flagward.domain.audit_diff import diff_entry
from flagward.domain.flags import Defaults, Flag, new_config, new_variations
from flagward.domain.representations import flag_document


def _flag() -> Flag:
    kind, variations = new_variations(None)
    flag = Flag(
        id="f1", project_key="p", key="checkout", name="Checkout", kind=kind, variations=variations,
        creation_date=1, defaults=Defaults(0, 1),
    )  # fmt: skip
    for env in ("production", "staging"):
        flag.environments[env] = new_config(flag.defaults, now=1)
    return flag


def test_a_flag_change_reads_part_by_part_and_field_by_field() -> None:
    before = _flag()
    after = copy.deepcopy(before)
    after.environments["staging"]["on"] = True
    after.environments["staging"]["version"] = 2
    after.environments["staging"]["lastModified"] = 99
    after.environments["staging"]["trackEvents"] = True
    after.description = "Now with a description"
    after.version = 2
    diff = diff_entry("flag", flag_document(before), flag_document(after))
    assert [(t.environment_key, [p.part for p in t.parts]) for t in diff.targeting] == [("staging", ["on"])]
    assert diff.targeting[0].parts[0].before == ["Targeting is off"]
    assert diff.targeting[0].parts[0].after == ["Targeting is on"]
    assert [(f.path, f.before, f.after) for f in diff.fields] == [
        ("description", '""', '"Now with a description"'),
        ("environments.staging.trackEvents", "false", "true"),
    ]


def test_other_resources_read_as_a_compact_json_diff() -> None:
    before: dict[str, Any] = {"name": "Production", "approvalSettings": {"required": False, "minNumApprovals": 1},
                              "_links": {"self": "x"}, "tags": []}  # fmt: skip
    after = {**before, "approvalSettings": {"required": True, "minNumApprovals": 2}, "tags": ["eu"], "_links": {}}
    diff = diff_entry("environment", before, after)
    assert diff.targeting == []
    assert [(f.path, f.before, f.after) for f in diff.fields] == [
        ("tags", "[]", '["eu"]'),
        ("approvalSettings.minNumApprovals", "1", "2"),
        ("approvalSettings.required", "false", "true"),
    ]


def test_creation_and_deletion_and_garbage_never_raise() -> None:
    created = diff_entry("flag", None, flag_document(_flag()))
    assert created.targeting == [] and created.fields  # a new flag: its fields, no "not configured" parts
    assert diff_entry("member", {"email": "a@b"}, None).fields[0].after is None
    garbled = diff_entry("flag", {"environments": {"x": "garbage"}}, {"environments": {"x": {"on": 3}}})
    assert garbled.targeting[0].parts[0].after == ["Targeting is off"]
    assert diff_entry("flag", None, None).empty
    long = diff_entry("segment", {}, {"rules": ["x" * 500]}).fields[0].after
    assert long is not None and len(long) <= 160 and long.endswith("…")
