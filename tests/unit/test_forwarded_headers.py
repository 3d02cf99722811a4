"""Only uvicorn reads forwarded headers, and only from the proxies named by ``--forwarded-allow-ips``:
no module of flagward may read X-Forwarded-For, X-Real-IP or Forwarded itself (a client could then pick
its own address and slip past sign-in throttling)."""

from __future__ import annotations

import re
from pathlib import Path

import flagward

_HEADER_LITERAL = re.compile(r"""(?i)b?["'](x-forwarded-[a-z]+|x-real-ip|forwarded)["']""")


def test_no_module_reads_forwarded_headers_itself() -> None:
    root = Path(flagward.__file__).parent
    readers = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in sorted(root.rglob("*.py"))
        for match in _HEADER_LITERAL.finditer(path.read_text())
    ]
    assert readers == []


def test_the_pattern_catches_a_header_read() -> None:
    assert _HEADER_LITERAL.search('request.headers.get("X-Forwarded-For")')
    assert _HEADER_LITERAL.search("if name == b'x-real-ip':")
