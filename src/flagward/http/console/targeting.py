"""The request page's side-by-side table, laid out from ``flagward.domain.diff`` (the wording and what
counts as a difference are the domain's; this module only chooses the columns).

- a copy request: the source now, the target now, the target after;
- a request on a flag that changed since it was made: when requested, now, after (three-way: a part
  the request and the meanwhile change both touched, differently, is marked conflicting);
- otherwise: now, after.
"""

from __future__ import annotations

from dataclasses import dataclass

from flagward.domain.diff import PARTS, config_lines, diff_configs, diff_three_way
from flagward.services.approval_detail import RequestDetail


@dataclass(frozen=True)
class Row:
    """One part across the columns; ``changed``: the last column differs from the one before it."""

    key: str
    title: str
    cells: list[list[str]]
    changed: bool
    conflicting: bool = False
    meanwhile: bool = False  # three-way: the part changed between the request and now


def comparison(detail: RequestDetail) -> tuple[list[str], list[Row]]:
    flag, proposed = detail.flag, detail.proposed_flag
    if flag is None or proposed is None:
        return [], []
    request = detail.view.request
    env = request.environment_key
    target = detail.environment.name if detail.environment else env
    if request.source is not None and detail.source is not None:
        source = detail.source_environment.name if detail.source_environment else request.source.key
        columns = [
            config_lines(flag, request.source.key, get_flag=detail.get_flag),
            config_lines(flag, env, get_flag=detail.get_flag),
            config_lines(proposed, env, get_flag=detail.get_flag),
        ]
        rows = [
            Row(part, title, [c[part] for c in columns], changed=columns[1][part] != columns[2][part])
            for part, title in PARTS
        ]
        return [f"{source} now (source)", f"{target} now", f"{target} after"], rows
    if detail.changed_since_requested and detail.base_flag is not None:
        three = diff_three_way(detail.base_flag, flag, proposed, environment_key=env, get_flag=detail.get_flag)
        rows = [
            Row(
                p.part,
                p.title,
                [p.base, p.current, p.proposed],
                p.current != p.proposed,
                p.conflicting,
                p.changed_meanwhile,
            )
            for p in three
        ]
        return [f"When requested (v{request.base_version})", f"{target} now", f"{target} after"], rows
    two = diff_configs(flag, proposed, before_environment=env, get_flag=detail.get_flag)
    return [f"{target} now", f"{target} after"], [Row(p.part, p.title, [p.before, p.after], p.differs) for p in two]
