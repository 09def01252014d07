"""``carsbot demo --serve``: the local stack stays up and POST /telegram answers as API Gateway would."""

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

SECRET = "serve_test-secret"  # a fake token for the local server


def _post(url: str, body: dict[str, object], secret: str | None) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if secret is not None:
        request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - a local URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_demo_serves_the_bot_webhook() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "carsbot.cli", "demo", "--serve", "--port", "0", "--quiet",
         "--webhook-secret", SECRET, "--admin-id", "777"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
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
        served = [line for line in lines if line.startswith("serving: ")]
        match = re.fullmatch(r"serving: bot-webhook (http://127\.0\.0\.1:(\d+)/telegram)", served[0])
        assert match, lines
        assert f"webhook secret: {SECRET}" in lines
        url = match.group(1)
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1, "date": int(time.time()), "text": "/start",
                "chat": {"id": 31337, "type": "private", "first_name": "Тест"},
                "from": {"id": 31337, "is_bot": False, "first_name": "Тест"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }  # fmt: skip
        assert _post(url, update, None) == 401
        assert _post(url, update, "wrong") == 401
        assert _post(url, update, SECRET) == 200
        assert _post(url, update, SECRET) == 200  # a duplicate delivery: answered, not processed again
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert re.search(r"^summary: posts=\d+ ", out, re.M), out[-2000:]
