"""``carsbot demo --serve`` as a subprocess for the end-to-end tests, and a POST helper for its endpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

START_TIMEOUT = 300.0  # the stack, the stand-ins and the demo run come up first: generous under load


@dataclass
class DemoServe:
    lines: list[str] = field(default_factory=list)  # what it printed up to "press Ctrl-C"
    out: str = ""  # what it printed after, up to its exit (the summary), once the block has ended

    def served(self, what: str) -> str:
        """The URL of the ``serving: WHAT URL`` line."""
        for line in self.lines:
            parts = line.split()
            if parts[:2] == ["serving:", what] and len(parts) == 3:
                return parts[2]
        raise AssertionError(f"no 'serving: {what}' line in {self.lines}")


@contextmanager
def demo_serving(*extra: str) -> Iterator[DemoServe]:
    """``carsbot demo --serve --port 0 --quiet EXTRA…`` up and serving; SIGINT when the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "carsbot.cli", "demo", "--serve", "--port", "0", "--quiet", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    serve = DemoServe()
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            serve.lines.append(line.rstrip("\n"))
            if line.startswith("press Ctrl-C"):
                break
        yield serve
    finally:
        process.send_signal(signal.SIGINT)
        serve.out, _ = process.communicate(timeout=60)


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    """POST ``body`` as JSON; the HTTP status, error statuses included."""
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - a local URL
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
