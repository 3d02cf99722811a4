"""Shared by the benchmark scripts: servers to measure, raw-socket HTTP clients, and reporting."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.sdk import Env, Rest

REPO = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """Where the figures come from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        # The machine may be shared: a busy one gives lower figures.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(name: str, results: dict[str, Any]) -> None:
    out = {
        "benchmark": name,
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "revision": git_revision(),
        **results,
    }
    text = json.dumps(out, indent=2)
    print(text)
    target = REPO / "bench" / "results"
    target.mkdir(exist_ok=True)
    (target / f"{name}.json").write_text(text + "\n")


def make_flags(api: Rest, env: Env, count: int, *, prefix: str = "flag") -> list[str]:
    """``count`` flags with some targeting each (targets, a rule, a rollout), on in ``env``."""
    keys = []
    for i in range(count):
        key = f"{prefix}-{i:04d}"
        flag = api.create_flag(env.project, key, variations=[{"value": "a"}, {"value": "b"}, {"value": "c"}])
        ids = [v["_id"] for v in flag["variations"]]
        api.semantic_patch(
            env.project,
            key,
            env.key,
            {"kind": "turnFlagOn"},
            {
                "kind": "addTargets",
                "contextKind": "user",
                "values": [f"user-{i}", f"user-{i + 1}"],
                "variationId": ids[1],
            },
            {
                "kind": "addRule",
                "clauses": [{"attribute": "email", "op": "endsWith", "values": ["@example.com"], "negate": False}],
                "variationId": ids[2],
            },
            {
                "kind": "updateFallthroughVariationOrRollout",
                "rolloutWeights": {ids[0]: 50000, ids[1]: 50000, ids[2]: 0},
            },
        )
        keys.append(key)
    return keys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StreamClient:
    """One raw ``GET /all`` connection; counts the events it receives and when."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    puts: int = 0
    patches: int = 0
    patch_times: list[float] | None = None

    @classmethod
    async def open(cls, port: int, sdk_key: str, path: str = "/all") -> StreamClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {sdk_key}\r\nAccept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        return cls(reader, writer, patch_times=[])

    async def run(self) -> None:
        """Read until the connection ends, counting events (an event ends with a blank line; the chunk
        framing between events does not matter here)."""
        buffer = b""
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                return
            now = time.time()
            buffer += chunk
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                if b"event: put" in event:
                    self.puts += 1
                elif b"event: patch" in event:
                    self.patches += 1
                    assert self.patch_times is not None
                    self.patch_times.append(now)

    def close(self) -> None:
        self.writer.close()


def wait_for(check: Any, timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(interval)


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], check=False, cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
