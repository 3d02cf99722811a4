"""External approval services named by an environment's approval settings (``serviceKind`` and
``serviceConfig``), flagward's generic JSON contract (the README shows it whole):

- ``serviceKind``: ``launchdarkly`` (flagward's own reviews only, the default) or any other name the
  operator chooses (``generic``, ``servicenow-bridge``…): then an external service is called too.
- ``serviceConfig``: ``{"url": "https://…", "secretEnv": "FLAGWARD_APPROVAL_SECRET…"}``. ``url`` is where
  flagward creates the external record (``POST url``) and reads its status (``GET url/<externalId>``).
  ``secretEnv`` names the server environment variable holding the shared secret that signs both
  directions: the secret itself is never stored, returned or audited, and the name must start with
  ``FLAGWARD_APPROVAL_SECRET`` so that an administrator cannot make flagward sign with another of its
  secrets (the database password).

Endpoints must be ``https`` and public; ``FLAGWARD_WEBHOOK_ALLOW_PRIVATE=1`` (the setting that also
governs webhooks) allows ``http`` and loopback, private and link-local addresses. Here the URL itself is
checked (literal addresses, ``localhost``); the transport checks again what the name resolves to.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flagward.domain.errors import InvalidRequest
from flagward.domain.webhooks import refusal

LAUNCHDARKLY = "launchdarkly"
SECRET_PREFIX = "FLAGWARD_APPROVAL_SECRET"
_SECRET_ENV = re.compile(rf"^{SECRET_PREFIX}[A-Z0-9_]*$")
_SERVICE_KIND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CONFIG_FIELDS = {"url", "secretEnv"}


@dataclass(frozen=True)
class ExternalService:
    """Where an environment's requests are sent, and the name of the variable holding the secret."""

    kind: str
    url: str
    secret_env: str


def validate_service(kind: object, config: object) -> None:
    """Raise InvalidRequest (naming ``approvalSettings.<field>``) unless ``kind``/``config`` make sense."""
    if not isinstance(kind, str) or not _SERVICE_KIND.match(kind):
        raise InvalidRequest(
            "approvalSettings.serviceKind must be 'launchdarkly' or a name of letters, digits, '.', '_' or '-'"
        )
    if not isinstance(config, dict):
        raise InvalidRequest("approvalSettings.serviceConfig must be an object")
    if kind == LAUNCHDARKLY:
        return
    unknown = sorted(set(config) - _CONFIG_FIELDS)
    if unknown:
        raise InvalidRequest(
            f"approvalSettings.serviceConfig: unknown field(s) {', '.join(unknown)}; use url and secretEnv"
        )
    url, secret_env = config.get("url"), config.get("secretEnv")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise InvalidRequest("approvalSettings.serviceConfig.url must be an https URL of the approval service")
    if not isinstance(secret_env, str) or not _SECRET_ENV.match(secret_env):
        raise InvalidRequest(
            f"approvalSettings.serviceConfig.secretEnv must name an environment variable starting with {SECRET_PREFIX}"
        )


def external_service(kind: str, config: dict[str, Any]) -> ExternalService | None:
    """The external service of validated settings; None for flagward's own reviews."""
    if kind == LAUNCHDARKLY:
        return None
    return ExternalService(kind=kind, url=str(config["url"]), secret_env=str(config["secretEnv"]))


def check_endpoint(url: str, *, allow_private: bool) -> None:
    """Refuse (InvalidRequest) a URL flagward must not call: not https, or naming a loopback, private,
    link-local or otherwise non-public address, unless ``allow_private``."""
    if allow_private:
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise InvalidRequest(f"{url}: only https endpoints are allowed (FLAGWARD_WEBHOOK_ALLOW_PRIVATE=1 allows http)")
    host = (parts.hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost") or not public_host(host):
        raise InvalidRequest(
            f"{url}: loopback, private and link-local addresses are refused "
            "(FLAGWARD_WEBHOOK_ALLOW_PRIVATE=1 allows them)"
        )


def public_host(host: str) -> bool:
    """False for a literal address that is not globally routable; True for names and public addresses."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True
    return public_address(address)


def public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """The webhooks' rule (``domain.webhooks.refusal``): one policy for every address flagward calls."""
    return refusal(str(address)) is None
