"""Workflows of a flag and workflow templates: LaunchDarkly's ``/workflows`` and ``/api/v2/templates``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response

from flagward.http.deps import ActorDep, DepsDep, PageDep
from flagward.http.links import collection, link
from flagward.http.presenters_workflows import present_template, present_workflow, workflows_path
from flagward.http.routes._responses import returns
from flagward.http.routes._router import api_router
from flagward.http.schemas.workflows import (
    CreateWorkflowTemplateInput,
    CustomWorkflowInput,
    CustomWorkflowOutput,
    CustomWorkflowsListingOutput,
    WorkflowTemplateOutput,
    WorkflowTemplatesListingOutputRep,
)
from flagward.services import workflow_templates as templates
from flagward.services import workflows as service

router = api_router(tags=["Workflows"])
FLAG = "/api/v2/projects/{projectKey}/flags/{featureFlagKey}/environments/{environmentKey}"
TEMPLATES = "/api/v2/templates"


@router.get(FLAG + "/workflows", summary="Get workflows", **returns(CustomWorkflowsListingOutput))
def list_workflows(
    actor: ActorDep,
    deps: DepsDep,
    page: PageDep,
    projectKey: str,
    featureFlagKey: str,
    environmentKey: str,
    status: Annotated[str | None, Query(description="active, completed or failed")] = None,
    sort: Annotated[str | None, Query(description="creationDate or -creationDate (the default)")] = None,
) -> dict[str, Any]:
    views, total = service.list_workflows(
        deps,
        actor=actor,
        project_key=projectKey,
        flag_key=featureFlagKey,
        env_key=environmentKey,
        status=status,
        sort=sort,
        page=page,
    )
    path = workflows_path(projectKey, featureFlagKey, environmentKey)
    items = [present_workflow(v) for v in views]
    return collection(path, items, total, page, {"status": status, "sort": sort})


@router.post(FLAG + "/workflows", status_code=201, summary="Create workflow", **returns(CustomWorkflowOutput))
def create_workflow(
    actor: ActorDep,
    deps: DepsDep,
    projectKey: str,
    featureFlagKey: str,
    environmentKey: str,
    body: CustomWorkflowInput,
    templateKey: Annotated[str | None, Query(description="Make the workflow's stages from this template")] = None,
    dryRun: Annotated[bool, Query(description="Check the workflow and answer it without making it")] = False,
) -> dict[str, Any]:
    """Creating a workflow changes no flag: it checks that each stage would apply and starts the first
    (requesting its approval, if it has an approval condition). The scheduler applies each stage, in
    order, through the approval gate, once its conditions are met."""
    new = service.NewWorkflow(
        name=body.name,
        description=body.description or "",
        stages=None if body.stages is None else [s.document() for s in body.stages],
        maintainer_id=body.maintainerId,
        template_key=templateKey or body.templateKey,
    )
    view = service.create_workflow(
        deps,
        actor=actor,
        project_key=projectKey,
        flag_key=featureFlagKey,
        env_key=environmentKey,
        new=new,
        dry_run=dryRun,
    )
    return present_workflow(view)


@router.get(FLAG + "/workflows/{workflowId}", summary="Get custom workflow", **returns(CustomWorkflowOutput))
def get_workflow(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, environmentKey: str, workflowId: str
) -> dict[str, Any]:
    view = service.get_workflow(
        deps,
        actor=actor,
        project_key=projectKey,
        flag_key=featureFlagKey,
        env_key=environmentKey,
        workflow_id=workflowId,
    )
    return present_workflow(view)


@router.delete(FLAG + "/workflows/{workflowId}", status_code=204, summary="Delete workflow")
def delete_workflow(
    actor: ActorDep, deps: DepsDep, projectKey: str, featureFlagKey: str, environmentKey: str, workflowId: str
) -> Response:
    """The pending approval request of the workflow's active stage is deleted with it."""
    service.delete_workflow(
        deps,
        actor=actor,
        project_key=projectKey,
        flag_key=featureFlagKey,
        env_key=environmentKey,
        workflow_id=workflowId,
    )
    return Response(status_code=204)


@router.get(
    TEMPLATES,
    summary="Get workflow templates",
    tags=["Workflow templates"],
    **returns(WorkflowTemplatesListingOutputRep),
)
def list_templates(
    actor: ActorDep,
    deps: DepsDep,
    summary: Annotated[bool, Query(description="Leave out each template's stages")] = False,
    search: Annotated[str | None, Query(description="A substring of the name or description")] = None,
) -> dict[str, Any]:
    found = templates.list_templates(deps, actor=actor, search=search)
    return {"items": [present_template(t, summary=summary) for t in found], "_links": {"self": link(TEMPLATES)}}


@router.post(
    TEMPLATES,
    status_code=201,
    summary="Create workflow template",
    tags=["Workflow templates"],
    **returns(WorkflowTemplateOutput),
)
def create_template(actor: ActorDep, deps: DepsDep, body: CreateWorkflowTemplateInput) -> dict[str, Any]:
    """From ``stages`` (with the ``projectKey``, ``environmentKey`` and ``flagKey`` they were written for,
    where they must apply) or from an existing workflow (``workflowId``)."""
    new = templates.NewTemplate(
        key=body.key,
        name=body.name,
        description=body.description,
        workflow_id=body.workflowId,
        stages=None if body.stages is None else [s.document() for s in body.stages],
        project_key=body.projectKey,
        environment_key=body.environmentKey,
        flag_key=body.flagKey,
    )
    return present_template(templates.create_template(deps, actor=actor, new=new))


@router.delete(
    TEMPLATES + "/{templateKey}", status_code=204, summary="Delete workflow template", tags=["Workflow templates"]
)
def delete_template(actor: ActorDep, deps: DepsDep, templateKey: str) -> Response:
    templates.delete_template(deps, actor=actor, key=templateKey)
    return Response(status_code=204)
