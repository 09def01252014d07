"""The bot in local mode: the scripted subscriber journey (``make demo``) and ``carsbot demo --serve``.

``run_journey`` plays a subscriber and an admin through the real webhook handler (HTTP API events,
secret token, the Bot API stand-in answering): deep link -> paywall -> granted -> contact card -> saved
search -> a new matching post through the whole pipeline -> the alert DM -> its contacts button. It
returns the chat as a transcript. Each step is one entry of ``JOURNEY``-style code in ``run_journey``; the
payments issue inserts its payment step before the card.

``serve`` keeps the local stack up and answers, until Ctrl-C, exactly what API Gateway would: one route
per entry of ``ENDPOINTS`` (``POST /telegram`` -> the bot function), each request turned into an HTTP API
(payload 2.0) event with the caller's IP in the request context, and the response passed back. The
queues (alerts, publish) are pumped in the background so notices and broadcasts go out.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.runner import LocalLambdaRunner
from carsbot_dev.local.stack import LocalStack
from carsbot_dev.local.telegram_updates import ChatSession, Reply, UpdateFactory, http_api_event

DEMO_ADMIN_ID = 100_001
DEMO_USER_ID = 424_242
# A car the sample does not have, posted after the subscriber saved a search for it.
NEW_POST_TEXT = (
    "Продаю Kia Sportage 2019 года, 2.0 автомат, полный привод, пробег 64 000 км, один владелец. "
    "Цена 2 150 000 руб. Воронеж. Тел. +7 903 555-12-34"
)
ALERT_LINE = "/alert спортейдж от 2017 до 2.5 млн Воронеж"


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(24)


# ----------------------------------------------------------------------------- the journey


@dataclass
class Transcript:
    lines: list[str]

    def say(self, who: str, text: str) -> None:
        self.lines.append(f"{who}: {text}")

    def replies(self, replies: list[Reply], to: str = "") -> None:
        for reply in replies:
            head, *rest = reply.text.splitlines() or [""]
            self.lines.append(f"  🤖 бот{to}: {head}")
            self.lines.extend(f"           {line}".rstrip() for line in rest)
            inline = [text for text, target in reply.buttons if target]
            if inline:
                self.lines.append("           " + " ".join(f"[{text}]" for text in inline))

    def render(self, width: int = 72) -> str:
        head = "══ bot: a subscriber's journey (through the webhook handler) ".ljust(width, "═")
        return "\n".join([head, *self.lines])


def _first_published_listing() -> str | None:
    from carsbot.adapters.db.models import ListingModel

    published = [item for item in ListingModel.scan() if item.status == "published" and item.phones]
    published.sort(key=lambda item: item.published_at or datetime.now(UTC))
    return published[0].listing_id if published else None


def _post_new_car(stack: LocalStack) -> None:
    """The new car comes in like any other post: queued, extracted, published, and alerts fanned out."""
    from carsbot.adapters.queues import send
    from carsbot.config import get_settings
    from carsbot.core.contracts import QueuedPost

    post = QueuedPost(
        channel_id=1999000111,
        message_id=7001,
        text=NEW_POST_TEXT,
        date=datetime.now(UTC),
        channel_username="voronezh_auto_demo",
        channel_title="Авто Воронеж",
    )
    send(get_settings().posts_queue_url, post)
    LocalLambdaRunner(stack).drain()


def run_journey(stack: LocalStack, api: BotApiStandin, secret: str, yookassa: Any = None) -> str:
    """Play the journey; returns the transcript (raises AssertionError when a step does not answer)."""
    runner = LocalLambdaRunner(stack)
    updates = UpdateFactory(start_id=10_000)

    def deliver(update: dict[str, Any]) -> dict[str, Any]:
        return runner.invoke("BotFunction", http_api_event(update, secret))  # type: ignore[no-any-return]

    anna = ChatSession(api, deliver, updates, DEMO_USER_ID, first_name="Анна")
    admin = ChatSession(api, deliver, updates, DEMO_ADMIN_ID, first_name="Админ")
    out = Transcript([])
    listing = _first_published_listing()
    if listing is None:
        return out.render() + "\n(no published listing with contacts: journey skipped)"

    out.say("👤 Анна (открывает «📞 Контакты продавца» в посте канала)", f"/start l_{listing}")
    paywall = anna.send(f"/start l_{listing}")
    out.replies(paywall)
    assert paywall and "подписке" in paywall[0].text, "the paywall did not show"

    if yookassa is not None:  # payments (docs/payments.md): the 30-day plan through the YooKassa stand-in
        from carsbot_dev.local.payments_demo import journey_payment

        journey_payment(stack, api, yookassa, anna, out)

    out.say("👮 админ", f"/grant {DEMO_USER_ID} 30")
    out.replies(admin.send(f"/grant {DEMO_USER_ID} 30"), " → админ")

    out.say("👤 Анна", f"/start l_{listing}")
    card = anna.send(f"/start l_{listing}")
    out.replies(card)
    assert card and "Телефон" in card[0].text, "the contact card did not show"

    out.say("👤 Анна", ALERT_LINE)
    saved = anna.send(ALERT_LINE)
    out.replies(saved)

    out.lines.append(
        "  … в канале-источнике появляется новое объявление: Kia Sportage 2019, 2 150 000 ₽, Воронеж"
    )
    before = len(api.private_messages(DEMO_USER_ID))
    _post_new_car(stack)
    alerts = [m for m in api.private_messages(DEMO_USER_ID)[before:] if "по вашему поиску" in m.html]
    for message in alerts:
        from carsbot_dev.local.botapi_standin import strip_html

        head, *rest = strip_html(message.html).splitlines()
        out.lines.append(f"  🤖 бот (уведомление): {head}")
        out.lines.extend(f"           {line}".rstrip() for line in rest)
        out.lines.append("           [📞 Контакты]")
    assert alerts, "the alert did not arrive"
    new_listing = _listing_of_alert(alerts[-1].html)
    if new_listing:
        out.lines.append("👤 Анна нажимает «📞 Контакты»")
        out.replies(anna.press(f"c:{new_listing}"))
    close_functions()
    return out.render()


def close_functions() -> None:
    """Close the HTTP sessions the loaded functions keep per container (as a container shutdown would)."""
    import sys

    bot_app, alerts_app = sys.modules.get("bot.app"), sys.modules.get("alerts.app")
    if bot_app is not None:
        bot_app.runtime.after_restore()  # drops the Bot (closing its session), as a restore would
    if alerts_app is not None:
        alerts_app.runtime.close_bot()


def _listing_of_alert(html: str) -> str | None:
    from carsbot.adapters.db.models import ListingModel

    for item in ListingModel.scan():
        if item.brand == "Kia" and item.model == "Sportage":
            return str(item.listing_id)
    return None


# ----------------------------------------------------------------------------- serving


@dataclass(frozen=True)
class Endpoint:
    """One route of the local API Gateway: ``method path`` -> the function with this logical id."""

    name: str
    method: str
    path: str
    function: str


ENDPOINTS: list[Endpoint] = [
    Endpoint("bot-webhook", "POST", "/telegram", "BotFunction"),
    Endpoint("payments-callback", "POST", "/yookassa", "PaymentsFunction"),
]


def _event(endpoint: Endpoint, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    """The HTTP API (payload 2.0) event API Gateway would send: lowercased headers, the caller's IP."""
    event = http_api_event({}, None, source_ip=source_ip)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{endpoint.method} {endpoint.path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = endpoint.path
    event["requestContext"]["http"]["method"] = endpoint.method
    event["headers"] = {k.lower(): v for k, v in headers.items()}
    try:
        event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
    except UnicodeDecodeError:
        import base64

        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def serve(
    stack: LocalStack,
    *,
    port: int,
    secret: str,
    out: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    endpoints: list[Endpoint] | None = None,
) -> None:
    """Serve the endpoints on 127.0.0.1 until Ctrl-C (or ``stop``); prints ``serving: <name> <url>`` lines."""
    from aiohttp import web

    runner = LocalLambdaRunner(stack)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda")  # one container, one request
    routes = [e for e in (endpoints or ENDPOINTS) if e.function in stack.functions]
    stop = stop or threading.Event()

    def invoke(endpoint: Endpoint, event: dict[str, Any]) -> dict[str, Any]:
        result = runner.invoke(endpoint.function, event)
        runner.drain()  # what the request queued (alerts, broadcasts) goes out now
        return result  # type: ignore[no-any-return]

    def handler_for(endpoint: Endpoint) -> Any:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            event = _event(endpoint, dict(request.headers), body, request.remote or "127.0.0.1")
            result = await asyncio.get_running_loop().run_in_executor(worker, invoke, endpoint, event)
            headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
            return web.Response(
                status=int(result.get("statusCode", 200)), text=str(result.get("body") or ""), headers=headers
            )

        return handle

    async def main() -> None:
        app = web.Application(client_max_size=1024 * 1024)
        for endpoint in routes:
            app.router.add_route(endpoint.method, endpoint.path, handler_for(endpoint))
        site_runner = web.AppRunner(app, access_log=None)
        await site_runner.setup()
        site = web.TCPSite(site_runner, "127.0.0.1", port)
        await site.start()
        actual = site_runner.addresses[0][1]
        for endpoint in routes:
            out(f"serving: {endpoint.name} http://127.0.0.1:{actual}{endpoint.path}")
        out(f"webhook secret: {secret}")
        out("press Ctrl-C to stop")
        try:
            while not stop.is_set():
                await asyncio.sleep(0.2)
        finally:
            await site_runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        worker.shutdown(wait=True)
        close_functions()


def store_webhook_secret(stack: LocalStack, secret: str) -> None:
    from carsbot.adapters.aws import client
    from carsbot.adapters.secrets import reset_secrets_cache

    client("secretsmanager").put_secret_value(
        SecretId=stack.secrets["BotWebhookSecret"], SecretString=json.dumps({"token": secret})
    )
    reset_secrets_cache()


# ----------------------------------------------------------------------------- carsbot demo options


@dataclass
class BotOptions:
    """The demo's bot options: --serve, --port, --bot-api, --webhook-secret, --admin-id."""

    serve: bool = False
    port: int = 8080
    bot_api: str | None = None
    webhook_secret: str | None = None
    admin_ids: tuple[int, ...] = ()
    journey: bool = True
    quiet: bool = False
    feed_printed: bool = False
    yookassa: Any = None  # the YooKassa stand-in (carsbot_dev.local.payments_demo), set by the demo

    @classmethod
    def from_args(cls, args: Any) -> BotOptions:
        return cls(
            serve=bool(getattr(args, "serve", False)),
            port=int(getattr(args, "port", 8080)),
            bot_api=getattr(args, "bot_api", None),
            webhook_secret=getattr(args, "webhook_secret", None),
            admin_ids=tuple(getattr(args, "admin_id", None) or ()),
            journey=not getattr(args, "quiet", False),
            quiet=bool(getattr(args, "quiet", False)),
        )

    def __post_init__(self) -> None:
        import re

        if self.webhook_secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", self.webhook_secret):
            raise SystemExit("--webhook-secret must be 1-256 characters of A-Z a-z 0-9 _ -")
        self.secret = self.webhook_secret or new_webhook_secret()

    def configure(self, parameters: dict[str, str], secrets_: dict[str, str]) -> None:
        """Template parameters and secret values of the local stack."""
        parameters["AdminIds"] = ",".join(str(i) for i in (*self.admin_ids, DEMO_ADMIN_ID))
        if self.bot_api:
            parameters["BotApiBase"] = self.bot_api.rstrip("/")
        secrets_["BotWebhookSecret"] = json.dumps({"token": self.secret})

    def after_replay(self, stack: LocalStack, api: BotApiStandin, summary: Any, feed: str) -> str:
        """The journey's transcript (one-shot demo) or, with ``--serve``, the feed and then the server."""
        if self.serve:
            if not self.quiet:
                print(feed, flush=True)
                self.feed_printed = True
            serve(stack, port=self.port, secret=self.secret, out=self._out)
            return ""
        if not self.journey or self.bot_api:
            return ""
        return "\n\n" + mask_contacts(run_journey(stack, api, self.secret, self.yookassa))

    def _out(self, line: str) -> None:
        print(line, flush=True)
        if self.yookassa is not None and line.startswith("serving: payments-callback "):
            self.yookassa.callback_url = line.split()[-1]  # the stand-in notifies the served callback


def mask_contacts(text: str) -> str:
    """The transcript shows that a card carries contacts, not the contacts: digits of phones and
    @usernames are masked (the demo's output is a log like any other)."""
    import re

    text = re.sub(r"\+\d[\d\s()-]{6,}\d", lambda m: m.group(0)[:3] + "•" * 5 + m.group(0)[-2:], text)
    text = re.sub(r"@([A-Za-z][A-Za-z0-9_]{3,31})", lambda m: "@" + m.group(1)[:2] + "•••", text)
    return re.sub(
        r"t\.me/([A-Za-z][A-Za-z0-9_]{3,31})\b(?!/)", lambda m: "t.me/" + m.group(1)[:2] + "•••", text
    )


def add_arguments(parser: Any) -> None:
    bot = parser.add_argument_group("bot", "the bot webhook in local mode (docs/bot.md)")
    bot.add_argument(
        "--serve",
        action="store_true",
        help="after the replay keep the stack up and serve POST /telegram (and the rest) until Ctrl-C",
    )
    bot.add_argument(
        "--port", type=int, default=8080, help="port of --serve on 127.0.0.1 (default 8080; 0 = any)"
    )
    bot.add_argument(
        "--bot-api", metavar="URL", help="send every Bot API call to this server instead of the stand-in"
    )
    bot.add_argument(
        "--webhook-secret", metavar="VALUE", help="the webhook secret token (default: a new random one)"
    )
    bot.add_argument(
        "--admin-id",
        type=int,
        action="append",
        metavar="N",
        help="a Telegram user id to make admin (repeatable)",
    )
