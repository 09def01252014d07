"""``carsbot demo --serve`` also serves ``POST /yookassa`` through the real payments handler; local mode
trusts only 127.0.0.1 (the caller here), so a body that is not a notification gets 400 and a notification
for a payment the stand-in never made is re-fetched, found unknown and answered 200 (not re-sent)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - a local URL
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_demo_serve_serves_the_payment_callback() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "carsbot.cli", "demo", "--serve", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("press Ctrl-C"):
                break
        served = [m for line in lines if (m := re.fullmatch(r"serving: payments-callback (\S+)", line))]
        assert served, lines
        url = served[0].group(1)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/yookassa", url)

        assert _post(url, b"{not json") == 400
        assert _post(url, b'{"type": "notification", "event": "payment.succeeded"}') == 400
        unknown = {
            "type": "notification",
            "event": "payment.succeeded",
            "object": {"id": "2f3a0c1e-000f-5000-8000-1a2b3c4d5e6f", "status": "succeeded",
                       "amount": {"value": "190.00", "currency": "RUB"}, "paid": True, "metadata": {}},
        }  # fmt: skip
        assert _post(url, json.dumps(unknown).encode()) == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert re.search(r"^summary: .* payments=0 credited=0$", out, re.M), out[-2000:]
