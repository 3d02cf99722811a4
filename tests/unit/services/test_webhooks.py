"""Webhooks on fakes: who may manage them, the URL checks when saved, their audit entries (never with
the secret), and the fan-out of audit entries to the outbox (statements, tags, on/off, ordering keys)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from flagward.domain.accounts import Role
from flagward.domain.errors import Forbidden, InvalidRequest
from flagward.domain.outbox import MessageKind
from flagward.domain.representations import audit_entry_document
from flagward.services import flags, projects, webhooks
from flagward.services.flags import NewFlag
from flagward.services.ports import WebhookOptions
from flagward.services.projects import NewProject
from flagward.services.webhooks import NewWebhook
from tests.unit.services.conftest import World

PUBLIC = "https://hooks.example.com/ld"


class Resolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    def resolve(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


def _with(world: World, **options: object) -> None:
    world.deps = dataclasses.replace(world.deps, webhooks=WebhookOptions(**options))  # type: ignore[arg-type]


def hook(world: World, statements: object = None, **fields: object) -> webhooks.Webhook:
    admin = world.member(Role.ADMIN)
    new = NewWebhook(url=PUBLIC, sign=True, on=True, statements=statements)
    return webhooks.create_webhook(world.deps, actor=admin, new=dataclasses.replace(new, **fields))  # type: ignore[arg-type]


def deliveries(world: World) -> list[tuple[str | None, dict[str, object]]]:
    return [(m.target, json.loads(m.payload["body"])) for m in world.uow.store.outbox if m.kind == MessageKind.WEBHOOK]


def test_only_owners_and_admins_manage_webhooks_and_readers_list_them(world: World) -> None:
    for role in (Role.WRITER, Role.READER):
        with pytest.raises(Forbidden):
            webhooks.create_webhook(
                world.deps, actor=world.member(role), new=NewWebhook(url=PUBLIC, sign=False, on=True)
            )
    created = hook(world)
    reader = world.member(Role.READER)
    assert [w.id for w in webhooks.list_webhooks(world.deps, actor=reader)] == [created.id]
    assert not webhooks.shows_secret(reader, created) and webhooks.shows_secret(world.member(Role.OWNER), created)
    with pytest.raises(Forbidden):
        webhooks.delete_webhook(world.deps, actor=world.member(Role.WRITER), webhook_id=created.id)


def test_a_signed_webhook_without_a_secret_gets_one_and_the_audit_log_never_shows_it(world: World) -> None:
    created = hook(world, secret=None)
    assert len(created.secret) >= 32
    admin = world.member(Role.ADMIN)
    patch = [{"op": "replace", "path": "/secret", "value": "frobozz"}, {"op": "replace", "path": "/on", "value": False}]
    patched = webhooks.patch_webhook(world.deps, actor=admin, webhook_id=created.id, patch=patch)
    assert (patched.secret, patched.on, patched.version) == ("frobozz", False, 2)
    entries = world.uow.store.audit
    assert [[a.action for a in e.accesses] for e in entries] == [["createWebhook"], ["updateSecret", "updateOn"]]
    assert all(
        "frobozz" not in json.dumps(e.content()) and created.secret not in json.dumps(e.content()) for e in entries
    )
    assert entries[0].target_resources == [f"webhook/{created.id}"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://localhost/",
        "http://api.localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://[::1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
    ],
)
def test_urls_naming_non_public_addresses_are_refused_unless_allowed(world: World, url: str) -> None:
    with pytest.raises(InvalidRequest, match="may not reach"):
        hook(world, url=url)
    _with(world, allow_private=True)
    assert hook(world, url=url).url == url


def test_names_are_resolved_when_saved_and_every_address_must_be_public(world: World) -> None:
    _with(world, resolver=Resolver({"inside.example": ["93.184.216.34", "10.0.0.7"], "ok.example": ["93.184.216.34"]}))
    with pytest.raises(InvalidRequest, match=r"10\.0\.0\.7 is a private address"):
        hook(world, url="https://inside.example/hook")
    assert hook(world, url="https://ok.example/hook").url == "https://ok.example/hook"
    assert hook(world, url="https://not-yet.example/hook")  # unresolvable now: checked again when sent
    created = hook(world, url="https://ok.example/hook")
    admin = world.member(Role.ADMIN)
    move = [{"op": "replace", "path": "/url", "value": "https://inside.example/"}]
    with pytest.raises(InvalidRequest):
        webhooks.patch_webhook(world.deps, actor=admin, webhook_id=created.id, patch=move)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "example.com/hook", "https://user:pw@example.com/", "http:///x", "https://[::1/"]
)
def test_urls_must_be_http_or_https_with_a_host_and_no_credentials(world: World, url: str) -> None:
    _with(world, allow_private=True)
    with pytest.raises(InvalidRequest):
        hook(world, url=url)


def test_bad_statements_are_refused(world: World) -> None:
    with pytest.raises(InvalidRequest, match=r"statements\[0\]"):
        hook(world, statements=[{"effect": "allow", "resources": ["proj/*"]}])


def test_no_webhook_means_no_delivery(world: World) -> None:
    projects.create_project(world.deps, actor=world.member(Role.ADMIN), new=NewProject(key="shop", name="Shop"))
    assert deliveries(world) == []


def test_every_audit_entry_goes_to_a_webhook_without_statements_as_the_audit_log_shows_it(world: World) -> None:
    created = hook(world)
    admin = world.member(Role.ADMIN)
    projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    messages = [m for m in world.uow.store.outbox if m.kind == MessageKind.WEBHOOK]
    entries = world.uow.store.audit
    assert [m.payload["entryId"] for m in messages] == [e.id for e in entries]  # its own creation, then the project
    account = world.uow.store.meta["account_id"]
    assert [json.loads(m.payload["body"]) for m in messages] == [
        audit_entry_document(e, account, detail=True) for e in entries
    ]
    assert {(m.target, m.ordering_key) for m in messages} == {(created.id, f"webhook:{created.id}")}


def test_statements_choose_the_entries_and_deny_wins(world: World) -> None:
    flags_in_shop = hook(
        world,
        statements=[
            {"effect": "allow", "resources": ["proj/shop:env/*:flag/*"], "actions": ["*"]},
            {"effect": "deny", "resources": ["proj/shop:env/*:flag/secret-*"], "actions": ["*"]},
        ],
    )
    projects_only = hook(world, statements=[{"effect": "allow", "resources": ["proj/*"], "actions": ["createProject"]}])
    world.uow.store.outbox.clear()
    admin = world.member(Role.ADMIN)
    for key in ("shop", "blog"):
        projects.create_project(world.deps, actor=admin, new=NewProject(key=key, name=key))
    for project, flag in (("shop", "checkout"), ("blog", "comments"), ("shop", "secret-sale")):
        flags.create_flag(world.deps, actor=admin, project_key=project, new=NewFlag(key=flag, name=flag))
    got = [(target, body["kind"], body["name"]) for target, body in deliveries(world)]
    assert got == [
        (projects_only.id, "project", "shop"),
        (projects_only.id, "project", "blog"),
        (flags_in_shop.id, "flag", "checkout"),
    ]


def test_tagged_statements_match_the_tags_of_the_resource(world: World) -> None:
    mobile = hook(
        world, statements=[{"effect": "allow", "resources": ["proj/*:env/*:flag/*;mobile"], "actions": ["*"]}]
    )
    tagged_project = hook(world, statements=[{"effect": "allow", "resources": ["proj/*;team-a"], "actions": ["*"]}])
    world.uow.store.outbox.clear()
    admin = world.member(Role.ADMIN)
    projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop", tags=["Team-A"]))
    projects.create_project(world.deps, actor=admin, new=NewProject(key="blog", name="Blog"))
    flags.create_flag(world.deps, actor=admin, project_key="shop", new=NewFlag(key="app", name="app", tags=["mobile"]))
    flags.create_flag(world.deps, actor=admin, project_key="shop", new=NewFlag(key="web", name="web", tags=["web"]))
    got = [(target, body["name"]) for target, body in deliveries(world)]
    assert got == [(tagged_project.id, "Shop"), (mobile.id, "app")]


def test_a_switched_off_webhook_gets_nothing(world: World) -> None:
    hook(world, on=False)
    projects.create_project(world.deps, actor=world.member(Role.ADMIN), new=NewProject(key="shop", name="Shop"))
    assert deliveries(world) == []


def test_the_delivery_log_lists_a_webhook_s_messages_newest_first(world: World) -> None:
    created = hook(world)
    other = hook(world)
    projects.create_project(world.deps, actor=world.member(Role.ADMIN), new=NewProject(key="shop", name="Shop"))
    reader = world.member(Role.READER)
    from flagward.services.ports import Page

    items, total = webhooks.list_deliveries(world.deps, actor=reader, webhook_id=created.id, page=Page(limit=10))
    assert total == 3  # its creation, the other's, the project
    assert [m.seq for m in items] == sorted((m.seq for m in items), reverse=True)
    assert all(m.target == created.id for m in items)
    _, others = webhooks.list_deliveries(world.deps, actor=reader, webhook_id=other.id, page=Page(limit=10))
    assert others == 2
