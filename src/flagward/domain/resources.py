"""Resource specifiers for the things flagward touches, in LaunchDarkly's syntax.

Authorization and audit entries name what they act on with these; tags are those the resource
carries (a pattern's ``;tag`` then requires them). ``proj/shop;retail:env/production;critical:flag/checkout;payments``.
"""

from __future__ import annotations

from collections.abc import Iterable


def _segment(kind: str, key: str, tags: Iterable[str] = ()) -> str:
    tag_list = sorted({t for t in tags if t})
    return f"{kind}/{key}" + (";" + ",".join(tag_list) if tag_list else "")


def project(key: str, tags: Iterable[str] = ()) -> str:
    return _segment("proj", key, tags)


def environment(
    project_key: str, env_key: str, env_tags: Iterable[str] = (), *, project_tags: Iterable[str] = ()
) -> str:
    return f"{project(project_key, project_tags)}:{_segment('env', env_key, env_tags)}"


def flag(
    project_key: str,
    flag_key: str,
    flag_tags: Iterable[str] = (),
    *,
    env_key: str = "*",
    env_tags: Iterable[str] = (),
    project_tags: Iterable[str] = (),
) -> str:
    """A flag in one environment (``env_key``), or in any (``*``) for project-level flag actions."""
    env = environment(project_key, env_key, env_tags, project_tags=project_tags)
    return f"{env}:{_segment('flag', flag_key, flag_tags)}"


def segment(
    project_key: str, env_key: str, segment_key: str, segment_tags: Iterable[str] = (), *, env_tags: Iterable[str] = ()
) -> str:
    return f"{environment(project_key, env_key, env_tags)}:{_segment('segment', segment_key, segment_tags)}"


def member(member_id: str) -> str:
    return _segment("member", member_id)


def member_token(member_id: str, token_id: str) -> str:
    return f"{member(member_id)}:{_segment('token', token_id)}"


def service_token(token_id: str) -> str:
    return _segment("service-token", token_id)


def role(key: str) -> str:
    return _segment("role", key)


def team(key: str) -> str:
    return _segment("team", key)


def webhook(webhook_id: str, tags: Iterable[str] = ()) -> str:
    return _segment("webhook", webhook_id, tags)


def template(key: str) -> str:
    return _segment("template", key)


ACCOUNT = "acct"
