"""Invitations: a one-time link with which a member sets their password (and so can sign in).

The link carries a random token; the store keeps only its SHA-256 (``accounts.hash_token``), so a copy
of the database cannot be used to sign in. A link lives :data:`INVITATION_TTL_MS`, works once, and a
new link for the same member replaces the old one.
"""

from __future__ import annotations

import html

from flagward.domain.notifications import Email

INVITATION_TTL_MS = 7 * 24 * 3600 * 1000
INVITATION_PATH = "/invitations/"


def invitation_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{INVITATION_PATH}{token}"


def invitation_email(*, to: str, url: str, invited_by: str, role: str, new_member: bool) -> Email:
    """The e-mail that carries a link (when SMTP is configured); the same link the admin is shown."""
    opening = (
        f"{invited_by} invited you to flagward as {role}."
        if new_member
        else f"{invited_by} sent you a link to set your flagward password."
    )
    rest = "Open this link to choose your password and sign in. It works once and expires in 7 days."
    subject = "[flagward] " + ("You are invited to flagward" if new_member else "Set your flagward password")
    text = f"{opening}\n\n{rest}\n\n{url}\n"
    page = (
        f"<html><body><p>{html.escape(opening)}</p><p>{html.escape(rest)}</p>"
        f'<p><a href="{html.escape(url)}">Set your password</a></p></body></html>'
    )
    return Email(to=to, subject=subject, text=text, html=page)
