"""``_links`` and collection envelopes, as LaunchDarkly writes them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flagward.services.ports import Page

JSON = "application/json"


def link(href: str, type_: str = JSON) -> dict[str, str]:
    return {"href": href, "type": type_}


def links(self_href: str, parent_href: str | None = None, **others: str) -> dict[str, dict[str, str]]:
    result = {"self": link(self_href)}
    if parent_href is not None:
        result["parent"] = link(parent_href)
    result.update({name: link(href) for name, href in others.items()})
    return result


def collection(
    path: str,
    items: list[dict[str, Any]],
    total: int,
    page: Page | None = None,
    query: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """``{items, totalCount, _links}``; paginated collections get first/prev/next/last links."""
    result: dict[str, Any] = {"items": items, "totalCount": total, "_links": {"self": link(path)}}
    if page is None:
        return result
    base = {k: v for k, v in (query or {}).items() if v}

    def href(offset: int) -> str:
        return f"{path}?{urlencode({**base, 'limit': page.limit, 'offset': offset})}"

    last_offset = max(0, ((total - 1) // page.limit) * page.limit) if total else 0
    result["_links"] = {
        "self": link(href(page.offset)),
        "first": link(href(0)),
        "last": link(href(last_offset)),
    }
    if page.offset > 0:
        result["_links"]["prev"] = link(href(max(0, page.offset - page.limit)))
    if page.offset + page.limit < total:
        result["_links"]["next"] = link(href(page.offset + page.limit))
    return result
