"""``carsbot demo --serve``: the local stack stays up and POST /telegram answers as API Gateway would."""

from __future__ import annotations

import json
import re
import time

from serve_support import demo_serving, post

SECRET = "serve_test-secret"  # a fake token for the local server


def _post(url: str, body: dict[str, object], secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return post(url, json.dumps(body).encode(), headers)


def test_demo_serves_the_bot_webhook() -> None:
    with demo_serving("--webhook-secret", SECRET, "--admin-id", "777") as serve:
        url = serve.served("bot-webhook")
        assert re.fullmatch(r"http://127\.0\.0\.1:(\d+)/telegram", url), serve.lines
        assert f"webhook secret: {SECRET}" in serve.lines
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
    assert re.search(r"^summary: posts=\d+ ", serve.out, re.M), serve.out[-2000:]
