"""Telling people about approval requests: each approval use case calls :func:`tell` in its own unit of
work, which stores an in-app notification per recipient and, for those who get e-mail, an outbox
message; so a change that rolls back tells nobody, and one that commits tells everyone once.

Who is told what is decided in ``flagward.domain.notifications``."""

from __future__ import annotations

from flagward.domain.accounts import Actor, ActorKind
from flagward.domain.approvals import ApprovalRequest, ResourceKind
from flagward.domain.describe import describe_instructions, describe_segment_instructions, describe_unknown
from flagward.domain.flags import Flag
from flagward.domain.ids import new_object_id
from flagward.domain.notifications import (
    Notification,
    RequestEvent,
    body,
    email,
    recipients,
    request_page,
    title,
)
from flagward.domain.outbox import MessageKind, NewMessage
from flagward.services.authz import LOAD, Load
from flagward.services.ports import Deps, UnitOfWork


def tell(
    uow: UnitOfWork,
    deps: Deps,
    request: ApprovalRequest,
    event: RequestEvent,
    *,
    actor: Actor,
    comment: str | None = None,
    added_reviewers: list[str] | None = None,
    scheduled: bool = False,
    changes: list[str] | None = None,
    flag: Flag | Load | None = LOAD,
) -> list[str]:
    """Notify whoever ``event`` concerns (in ``uow``'s transaction); returns their member ids. ``changes``:
    the instructions in words, when the caller described them before applying them (:func:`describe`);
    ``flag``: the request's flag, when the caller loaded it in this transaction before changing it."""
    told = recipients(
        event, request, actor_member_id=None if scheduled else actor.member_id, added_reviewers=added_reviewers
    )
    contacts = uow.members.contacts(told)
    members = [contacts[member_id] for member_id in told if member_id in contacts]
    if not members:
        return []
    now = deps.clock.now_ms()
    heading = title(event, request, "flagward" if scheduled else _name(uow, actor))
    text = body(request, describe(uow, request, flag=flag) if changes is None else changes, comment)
    for member in members:
        notification = Notification(
            id=new_object_id(),
            member_id=member.id,
            event=event,
            title=heading,
            body=text,
            created_at=now,
            approval_request_id=request.id,
            link=request_page(request.id),
        )
        uow.notifications.add(notification)
        if deps.notify.email and member.email_notifications:
            mail = email(notification, to=member.email, public_url=deps.notify.public_url)
            payload = {"to": [mail.to], "subject": mail.subject, "text": mail.text, "html": mail.html}
            uow.outbox.add(NewMessage(kind=MessageKind.EMAIL, payload=payload, target=member.id), now=now)
    return [m.id for m in members]


def describe(uow: UnitOfWork, request: ApprovalRequest, *, flag: Flag | Load | None = LOAD) -> list[str]:
    """The request's instructions in plain words (``flagward.domain.describe``, shared with the console),
    read against the flag as it is now: call it before applying them. ``flag``: the request's flag when
    the caller has loaded it already (None: it is gone); LOAD: load it."""
    if request.resource_kind is ResourceKind.SEGMENT:
        return describe_segment_instructions(request.instructions)
    if request.resource_kind is not ResourceKind.FLAG:
        flag = None
    elif isinstance(flag, Load):
        flag = uow.flags.get(request.project_key, request.resource_key)
    if flag is None:  # the flag is gone
        return [describe_unknown(i) for i in request.instructions]
    return describe_instructions(
        request.instructions,
        flag,
        request.environment_key,
        get_flag=lambda key: uow.flags.get(request.project_key, key),
    )


def _name(uow: UnitOfWork, actor: Actor) -> str:
    if actor.member_id is not None:
        member = uow.members.contacts([actor.member_id]).get(actor.member_id)
        if member is not None:
            return member.display_name
    if actor.token_name:
        return actor.token_name if actor.kind is ActorKind.SYSTEM else f"Access token '{actor.token_name}'"
    return "flagward"
