"""Project-level settings: name, description, tags, lifecycle, maintainer, client-side availability and
custom properties. None of them touches an environment's configuration."""

from __future__ import annotations

from dataclasses import replace

from flagward.domain.errors import InvalidRequest
from flagward.domain.instructions.params import Handler, Step, string_list

_AVAILABILITY = {"usingMobileKey": "using_mobile_key", "usingEnvironmentId": "using_environment_id"}


def _update_name(step: Step) -> None:
    name = step.text("value")
    if not name.strip():
        raise InvalidRequest("value must not be blank")
    step.flag.name = name


def _update_description(step: Step) -> None:
    step.flag.description = step.optional_text("value") or ""


def _add_tags(step: Step) -> None:
    step.flag.tags += [t for t in step.strings() if t not in step.flag.tags]


def _remove_tags(step: Step) -> None:
    removed = step.strings()
    step.flag.tags = [t for t in step.flag.tags if t not in removed]


def _make_temporary(step: Step) -> None:
    step.flag.temporary = True


def _make_permanent(step: Step) -> None:
    step.flag.temporary = False


def _update_maintainer_member(step: Step) -> None:
    member_id = step.text("value")
    if not step.context.member_exists(member_id):
        raise InvalidRequest(f"value '{member_id}' is not a member of this account")
    step.flag.maintainer_id, step.flag.maintainer_team_key = member_id, None


def _update_maintainer_team(step: Step) -> None:
    team_key = step.text("value")
    if not step.context.team_exists(team_key):
        raise InvalidRequest(f"value '{team_key}' is not a team of this account")
    step.flag.maintainer_id, step.flag.maintainer_team_key = None, team_key


def _remove_maintainer(step: Step) -> None:
    step.flag.maintainer_id = step.flag.maintainer_team_key = None


def _set_availability(step: Step, enabled: bool) -> None:
    which = step.text("value")
    if which not in _AVAILABILITY:
        raise InvalidRequest(f"value must be 'usingMobileKey' or 'usingEnvironmentId', not '{which}'")
    availability = step.flag.client_side_availability
    step.flag.client_side_availability = replace(availability, **{_AVAILABILITY[which]: enabled})


def _turn_on_availability(step: Step) -> None:
    _set_availability(step, True)


def _turn_off_availability(step: Step) -> None:
    _set_availability(step, False)


def _archive(step: Step) -> None:
    """Refused while other flags use this one as a prerequisite: they would lose it silently."""
    if step.flag.archived:
        return
    dependents = sorted({f"'{key}' (in {env})" for key, env, _ in step.context.dependents_of(step.flag.key)})
    if dependents:
        raise InvalidRequest(
            f"flag '{step.flag.key}' is a prerequisite of {', '.join(dependents)}; remove those prerequisites first"
        )
    _set_archived(step, True, step.context.now)


def _restore(step: Step) -> None:
    _set_archived(step, False, None)


def _set_archived(step: Step, archived: bool, date: int | None) -> None:
    """Each configuration's ``archived`` follows the flag's: it is what the REST API shows per environment."""
    step.flag.archived, step.flag.archived_date = archived, date
    for config in step.flag.environments.values():
        config["archived"] = archived


def _deprecate(step: Step) -> None:
    if not step.flag.deprecated:
        step.flag.deprecated, step.flag.deprecated_date = True, step.context.now


def _restore_deprecated(step: Step) -> None:
    step.flag.deprecated, step.flag.deprecated_date = False, None


def _custom_property(step: Step) -> tuple[str, list[str]]:
    return step.text("key"), string_list(step.value("values"), "values", allow_empty=True)


def _add_custom_properties(step: Step) -> None:
    key, values = _custom_property(step)
    name = step.text("name")
    existing = step.flag.custom_properties.get(key)
    current = list(existing["value"]) if isinstance(existing, dict) and isinstance(existing.get("value"), list) else []
    step.flag.custom_properties[key] = {"name": name, "value": current + [v for v in values if v not in current]}


def _remove_custom_properties(step: Step) -> None:
    """Removing every value removes the property."""
    key, values = _custom_property(step)
    if key not in step.flag.custom_properties:
        return
    prop = step.flag.custom_properties[key]
    remaining = [v for v in prop["value"] if v not in values]
    if remaining:
        step.flag.custom_properties[key] = {**prop, "value": remaining}
    else:
        del step.flag.custom_properties[key]


def _replace_custom_properties(step: Step) -> None:
    key, values = _custom_property(step)
    if values:
        step.flag.custom_properties[key] = {"name": step.text("name"), "value": values}
    else:
        step.flag.custom_properties.pop(key, None)


HANDLERS: dict[str, Handler] = {
    "updateName": _update_name,
    "updateDescription": _update_description,
    "addTags": _add_tags,
    "removeTags": _remove_tags,
    "makeFlagTemporary": _make_temporary,
    "makeFlagPermanent": _make_permanent,
    "updateMaintainerMember": _update_maintainer_member,
    "updateMaintainerTeam": _update_maintainer_team,
    "removeMaintainer": _remove_maintainer,
    "turnOnClientSideAvailability": _turn_on_availability,
    "turnOffClientSideAvailability": _turn_off_availability,
    "archiveFlag": _archive,
    "restoreFlag": _restore,
    "deprecateFlag": _deprecate,
    "restoreDeprecatedFlag": _restore_deprecated,
    "addCustomProperties": _add_custom_properties,
    "removeCustomProperties": _remove_custom_properties,
    "replaceCustomProperties": _replace_custom_properties,
}
