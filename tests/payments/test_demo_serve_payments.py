"""``carsbot demo --serve`` also serves ``POST /yookassa`` through the real payments handler; local mode
trusts only 127.0.0.1 (the caller here), so a body that is not a notification gets 400 and a notification
for a payment the stand-in never made is re-fetched, found unknown and answered 200 (not re-sent)."""

from __future__ import annotations

import json
import re

from serve_support import demo_serving, post


def test_demo_serve_serves_the_payment_callback() -> None:
    with demo_serving() as serve:
        url = serve.served("payments-callback")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/yookassa", url), serve.lines

        assert post(url, b"{not json") == 400
        assert post(url, b'{"type": "notification", "event": "payment.succeeded"}') == 400
        unknown = {
            "type": "notification",
            "event": "payment.succeeded",
            "object": {"id": "2f3a0c1e-000f-5000-8000-1a2b3c4d5e6f", "status": "succeeded",
                       "amount": {"value": "190.00", "currency": "RUB"}, "paid": True, "metadata": {}},
        }  # fmt: skip
        assert post(url, json.dumps(unknown).encode()) == 200
    assert re.search(r"^summary: .* payments=0 credited=0$", serve.out, re.M), serve.out[-2000:]
