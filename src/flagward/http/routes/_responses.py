"""How a route documents and serves its response model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def returns(model: type[BaseModel]) -> dict[str, Any]:
    """Route options: ``model`` is the documented response, and the presenter's document is served through
    it, validated, under LaunchDarkly's names and with only the keys the presenter set (a ``null`` it set
    stays; a field it left out is not added). A handler that builds its own Response (sign-in, the team import)
    is documented by ``model`` but not served through it."""
    return {"response_model": model, "response_model_exclude_unset": True, "response_model_by_alias": True}
