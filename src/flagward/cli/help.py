"""Options that describe themselves in ``--help``: each shows its default, and an option named after a
``Settings`` field shows its environment variable (``FLAGWARD_<NAME>``) and its setting's default.

Click reads that variable too, so the command line and ``Settings`` agree on precedence (option, then
environment, then default) and a malformed value is reported against the option it feeds.

The command tree is walked through Click's public attributes (``params``, ``commands``, ``envvar``,
``show_envvar``, ``show_default``, ``default``, ``is_eager``), which Typer's own classes keep.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticUndefined

from flagward.config import Settings

_SCALARS = (str, int, float, bool)


def describe_other_settings(command: Any) -> None:
    """Add to ``command``'s help every setting it has no option for: its environment variable and default."""
    covered = {param.name for param in getattr(command, "params", ())}
    prefix = Settings.model_config.get("env_prefix", "")
    lines = []
    for name, field in Settings.model_fields.items():
        if name in covered:
            continue
        default = field.get_default(call_default_factory=True)
        shown = "unset" if default is None or default == "" or not field.repr else default
        lines.append(f"{prefix}{name.upper()} (default: {shown})")
    if lines:
        command.epilog = "Other settings, from the environment:\n\n" + "\n\n".join(lines)


def describe_options(command: Any) -> None:
    """Describe every option of ``command`` and of its subcommands, recursively, in place."""
    for param in getattr(command, "params", ()):
        # Arguments have no defaults to show; --help and --version (eager) describe themselves.
        if getattr(param, "param_type_name", "") == "option" and not param.is_eager:
            _describe(param)
    for sub in getattr(command, "commands", {}).values():
        describe_options(sub)


def _describe(option: Any) -> None:
    field = Settings.model_fields.get(option.name or "")
    if field is not None:
        if option.envvar is None:
            option.envvar = f"{Settings.model_config.get('env_prefix', '')}{option.name.upper()}"
        default = field.get_default(call_default_factory=True)
        option.show_envvar = True
        if option.default is None and isinstance(default, _SCALARS):
            option.default = default
        elif option.default is None and default not in (None, PydanticUndefined):
            option.show_default = str(default)  # a list or the like: shown, left to Settings to parse
            return
    option.show_default = True
