"""Segments to LaunchDarkly's ``UserSegment``."""

from __future__ import annotations

from typing import Any

from flagward.domain.segment_changes import segment_document
from flagward.domain.segments import Segment
from flagward.http.links import link, links

API = "/api/v2"


def segment(value: Segment, flag_keys: list[str] | None = None) -> dict[str, Any]:
    doc = segment_document(value)
    base = f"{API}/segments/{value.project_key}/{value.environment_key}"
    doc["_links"] = links(f"{base}/{value.key}", base)
    doc["_access"] = {"allowed": [], "denied": []}
    if flag_keys is not None:
        doc["_flags"] = [
            {
                "key": key,
                "name": key,
                "_links": links(f"{API}/flags/{value.project_key}/{key}", f"{API}/flags/{value.project_key}"),
                "_site": link(f"/{value.project_key}/{value.environment_key}/features/{key}", "text/html"),
            }
            for key in flag_keys
        ]
    return doc
