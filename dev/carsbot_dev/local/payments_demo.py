"""Payments in local mode: the YooKassa stand-in, ``POST /yookassa`` served the way API Gateway would,
and a payer who presses "Оплатить" on the checkout page.

* ``payments_parameters`` / ``payments_secrets`` — what the local stack needs (the stand-in's API URL,
  ``127.0.0.1/32`` as YooKassa's only network, the stand-in's shop credentials in the YooKassa secret).
* ``PaymentsCallbackServer`` — an HTTP server whose ``POST /yookassa`` becomes an HTTP API (payload 2.0)
  event, with ``requestContext.http.sourceIp`` taken from the TCP peer as API Gateway does, for the real
  handler (``payments.app.handler``). ``carsbot demo --serve`` prints it as
  ``serving: payments-callback http://127.0.0.1:PORT/yookassa``.
* ``pay_on_checkout_page(url)`` — loads the confirmation URL and submits its plain HTML form, as a payer's
  browser would; the stand-in then POSTs the notification to the callback from 127.0.0.1.
* ``payment_counts()`` — ``(payments, credited)`` for the demo's summary line.
* ``yookassa_standin()``, ``callback_served(stack, standin)``, ``buy_plan(session)`` — what the demo's
  journey uses: the stand-in, the served callback, and a subscriber buying a plan from the bot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from carsbot_dev.local.http_standin import BackgroundHttpServer
from carsbot_dev.local.yookassa_standin import YooKassaStandin

LOCAL_NETWORK = "127.0.0.1/32"


def payments_parameters(standin: YooKassaStandin) -> dict[str, str]:
    return {"YooKassaApiUrl": standin.api_url, "YooKassaTrustedNetworks": LOCAL_NETWORK}


def payments_secrets(standin: YooKassaStandin) -> dict[str, str]:
    return {"YooKassaSecret": json.dumps({"shop_id": standin.shop_id, "secret_key": standin.secret_key})}


class PaymentsCallbackServer(BackgroundHttpServer):
    """``POST /yookassa`` -> the payments function's handler, as API Gateway's HTTP API delivers it."""

    thread_name = "payments-callback"
    client_max_size = 10 * 1024 * 1024  # HTTP API's payload limit; the handler enforces its own 64 KB

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], *, port: int = 0) -> None:
        super().__init__(port=port)
        self.handler = handler
        self.answers: list[int] = []

    @property
    def url(self) -> str:
        return f"{self.root_url}/yookassa"

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/yookassa", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        from carsbot_dev.local.runner import LambdaContext

        raw = await request.read()
        event = {
            "version": "2.0",
            "routeKey": "POST /yookassa",
            "rawPath": "/yookassa",
            "rawQueryString": request.query_string,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "requestContext": {
                "http": {
                    "method": "POST",
                    "path": "/yookassa",
                    "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                    "sourceIp": request.remote or "",
                    "userAgent": request.headers.get("User-Agent", ""),
                },
                "requestId": f"local-{time.monotonic_ns()}",
                "routeKey": "POST /yookassa",
                "stage": "$default",
                "timeEpoch": int(time.time() * 1000),
            },
            "body": base64.b64encode(raw).decode(),
            "isBase64Encoded": True,
        }
        context = LambdaContext(function_name="payments-local", timeout_seconds=25)
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(None, self.handler, event, context)
        status = int(answer.get("statusCode", 500))
        self.answers.append(status)
        return web.Response(status=status, text=str(answer.get("body", "")), content_type="text/plain")


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.buttons: dict[str, tuple[str, str]] = {}  # label -> (name, value)
        self._button: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and values.get("method", "").lower() == "post":
            self.action = values.get("action")
        if tag == "button":
            self._button = (values.get("name", ""), values.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self.buttons[data.strip()] = self._button

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None


def pay_on_checkout_page(url: str, *, button: str = "Оплатить", timeout: float = 30) -> str:
    """Open the confirmation URL and press ``button`` in its form; returns the result page's text."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname != "127.0.0.1":  # only the local stand-in; never a real payment page
        raise ValueError("pay_on_checkout_page works with the local YooKassa stand-in only")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a local http URL
        page = response.read().decode()
    form = _Form()
    form.feed(page)
    if form.action is None or button not in form.buttons:
        raise ValueError(f"no {button!r} button on the checkout page")
    name, value = form.buttons[button]
    target = urllib.parse.urljoin(url, form.action)
    data = urllib.parse.urlencode({name: value}).encode()
    request = urllib.request.Request(target, data=data, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return str(response.read().decode())


def payment_counts() -> tuple[int, int]:
    """``(payments, credited)``: orders that reached a provider payment, and credited payments."""
    from carsbot.adapters.db.orders import OrderModel, PaymentModel

    payments = sum(1 for order in OrderModel.scan() if order.provider_payment_id)
    credited = sum(1 for _ in PaymentModel.scan())
    return payments, credited


@contextmanager
def yookassa_standin() -> Iterator[YooKassaStandin]:
    """The stand-in for local mode (no redelivery delays to wait out at the end of a demo)."""
    with YooKassaStandin(redelivery_delays=(1.0,)) as standin:
        yield standin


@contextmanager
def callback_served(stack: Any, standin: YooKassaStandin) -> Iterator[PaymentsCallbackServer]:
    """``POST /yookassa`` served for the one-shot demo; the stand-in notifies it."""
    from carsbot_dev.local.runner import LocalLambdaRunner

    with PaymentsCallbackServer(LocalLambdaRunner(stack).handler("PaymentsFunction")) as server:
        standin.callback_url = server.url
        try:
            yield server
        finally:
            standin.callback_url = None


def buy_plan(session: Any, plan_code: str = "month") -> tuple[list[Any], list[Any]]:
    """A subscriber taps the plan button and pays on the checkout page.

    ``session`` is a ``ChatSession``; returns (the bot's replies to the tap, the DMs that arrived after the
    payment — the confirmation is queued for the alerts function, so the caller drains the queues first
    when it wants to show it).
    """
    replies = session.press(f"plan:{plan_code}")
    urls = [target for reply in replies for _, target in reply.buttons if str(target).startswith("http")]
    if not urls:
        raise AssertionError(f"no pay button in {[r.text for r in replies]}")
    pay_on_checkout_page(urls[0])
    return replies, urls


def journey_payment(stack: Any, api: Any, standin: YooKassaStandin, session: Any, out: Any) -> None:
    """The demo journey's payment step: the 30-day plan bought through the stand-in and the real callback.

    ``session`` is the subscriber's ``ChatSession``, ``out`` the journey's transcript.
    """
    from carsbot_dev.local.botapi_standin import strip_html
    from carsbot_dev.local.runner import LocalLambdaRunner

    out.say("👤 Анна", "«💳 Тарифы» → «30 дней»")
    before = len(api.private_messages(session.user_id))
    with callback_served(stack, standin) as server:
        replies, urls = buy_plan(session, "month")
        out.replies(replies)
        out.lines.append(
            f"  … Анна нажимает «Оплатить» на странице ЮKassa (локальная заглушка, {urls[0].split('?')[0]}); "
            f"уведомление → POST /yookassa → {server.answers[-1] if server.answers else '—'}"
        )
    LocalLambdaRunner(stack).drain()  # the confirmation DM goes out through the alerts queue
    confirmations = [m for m in api.private_messages(session.user_id)[before:] if "действует до" in m.html]
    for message in confirmations:
        head, *rest = strip_html(message.html).splitlines()
        out.lines.append(f"  🤖 бот: {head}")
        out.lines.extend(f"           {line}".rstrip() for line in rest)
    assert confirmations, "the payment was not confirmed"
