"""flagward's own: the import of a LaunchDarkly SDK payload into a project's environment."""

from __future__ import annotations

from pydantic import Field

from flagward.http.schemas.read_common import Read


class ImportRefusalRep(Read):
    item: str = Field(description="flags/KEY or segments/KEY")
    path: str = Field(description="Where in the payload, e.g. flags.checkout.rules[0].clauses[0].op")
    reason: str


class ImportItemRep(Read):
    item: str
    detail: str = Field(description="e.g. the version SDKs are now served")


class ImportRequestRep(Read):
    item: str = Field(description="flags/KEY or segments/KEY")
    environmentKey: str
    requestId: str | None = Field(description="The approval request's id (null in a dry run: one would be made)")


class ImportRep(Read):
    dryRun: bool = Field(description="true: nothing was stored; the lists say what would be")
    created: list[ImportItemRep]
    updated: list[ImportItemRep]
    unchanged: list[ImportItemRep]
    refused: list[ImportRefusalRep]
    requested: list[ImportRequestRep] = Field(
        description="asRequests: the approval requests made where approval is required, one per flag and "
        "environment (the imported configuration, verbatim, as flagward's own instruction "
        "replaceFlagConfiguration) and one per segment (its salt, targets and rules, verbatim, as flagward's "
        "own instruction replaceSegmentConfiguration)"
    )
