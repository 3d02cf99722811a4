"""Response models: projects and environments (LaunchDarkly's ``Project``, ``ProjectRep``, ``Projects``,
``Environment``, ``Environments``)."""

from __future__ import annotations

from pydantic import Field

from flagward.http.schemas.read_common import Access, ApprovalSettings, ClientSideAvailability, Links, Maybe, Read


class Environment(Read):
    links: Links = Field(alias="_links")
    id: str = Field(alias="_id")
    key: str
    name: str
    apiKey: str
    mobileKey: str
    color: str
    defaultTtl: int
    secureMode: bool
    access: Maybe[Access] = Field(default=None, alias="_access")
    defaultTrackEvents: bool
    requireComments: bool
    confirmChanges: bool
    tags: list[str]
    approvalSettings: Maybe[ApprovalSettings] = None
    resourceApprovalSettings: Maybe[dict[str, ApprovalSettings]] = None
    critical: bool


class Environments(Read):
    links: Maybe[Links] = Field(default=None, alias="_links")
    totalCount: Maybe[int] = None
    items: list[Environment]


class _ProjectBase(Read):
    links: Links = Field(alias="_links")
    id: str = Field(alias="_id")
    key: str
    includeInSnippetByDefault: bool
    defaultClientSideAvailability: Maybe[ClientSideAvailability] = None
    name: str
    access: Maybe[Access] = Field(default=None, alias="_access")
    tags: list[str]
    defaultReleasePipelineKey: Maybe[str] = None


class Project(_ProjectBase):
    """A project; ``environments`` only when expanded (or by default before API version 20220603)."""

    environments: Maybe[Environments] = None


class ProjectRep(_ProjectBase):
    """A project as created or patched: its environments as a plain list."""

    environments: list[Environment]


class Projects(Read):
    links: Links = Field(alias="_links")
    items: list[Project]
    totalCount: Maybe[int] = None
