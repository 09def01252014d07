"""A local YooKassa stand-in (API v3 payments and refunds, a checkout page, notifications).

An aiohttp server on ``127.0.0.1:<free port>`` (``BackgroundHttpServer``) that answers the calls the
``yookassa`` SDK makes, shaped like YooKassa's answers:

* ``POST /v3/payments`` (``Idempotence-Key`` required; the same key with the same body answers the same
  payment, with another body 400), ``GET /v3/payments/{id}``, ``POST /v3/payments/{id}/cancel``,
  ``POST /v3/refunds``, ``GET /v3/refunds/{id}``; HTTP Basic auth with the shop id and secret key.
* A redirect confirmation URL ``<root>/checkout/payments/v2/contract?orderId=<payment id>`` whose page has
  a plain HTML form: "Оплатить" completes the payment (a bank card, saved when the request asked
  ``save_payment_method``), "Отменить" cancels it. Either sends the notification
  (``payment.succeeded`` / ``payment.canceled``) to ``callback_url`` from 127.0.0.1, as YooKassa would,
  and redelivers on a non-200 answer (``redelivery_delays``).
* A payment with a saved ``payment_method_id`` (auto-renewal) succeeds at once, unless the method was
  declined with ``decline_method``; a refund succeeds at once and sends ``refund.succeeded``.

Tests drive it directly too: ``complete``/``cancel``, ``notification(event, object_id)`` (a genuine
notification body), ``fail_next`` (inject 5xx/429 answers), ``set_status`` (a payment whose status
contradicts a notification) and ``requests`` (every API call recorded).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from carsbot_dev.local.http_standin import BackgroundHttpServer

STANDIN_SHOP_ID = "100500"
STANDIN_SECRET_KEY = "local-standin-secret"  # noqa: S105 - fake, for the local stand-in only
CHECKOUT_PATH = "/checkout/payments/v2/contract"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_body(code: str, description: str, parameter: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "error",
        "id": str(uuid.uuid4()),
        "code": code,
        "description": description,
    }
    if parameter:
        body["parameter"] = parameter
    return body


def _error(status: int, code: str, description: str, parameter: str | None = None) -> web.Response:
    return web.json_response(_error_body(code, description, parameter), status=status)


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount > 0 and amount == amount.quantize(Decimal("0.01")) else None


@dataclass
class RecordedRequest:
    method: str
    path: str
    idempotence_key: str | None
    body: dict[str, Any] | None
    status: int = 0


@dataclass
class Delivery:
    """One notification POST to the callback and its answer (0 = the callback was unreachable)."""

    event: str
    object_id: str
    status: int
    attempt: int


@dataclass
class _Failure:
    method: str
    prefix: str
    status: int
    remaining: int


@dataclass
class _Idempotent:
    fingerprint: str
    status: int
    body: dict[str, Any]


class YooKassaStandin(BackgroundHttpServer):
    thread_name = "yookassa-standin"

    def __init__(
        self,
        *,
        shop_id: str = STANDIN_SHOP_ID,
        secret_key: str = STANDIN_SECRET_KEY,
        callback_url: str | None = None,
        redelivery_delays: tuple[float, ...] = (0.5, 2.0),
        latency: float = 0.0,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.shop_id = shop_id
        self.secret_key = secret_key
        self.callback_url = callback_url
        self.redelivery_delays = redelivery_delays
        self.latency = latency
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.deliveries: list[Delivery] = []
        self.declined_methods: set[str] = set()
        self._keys: dict[str, _Idempotent] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ public helpers
    @property
    def api_url(self) -> str:
        """The SDK's ``api_url`` (``Configuration.configure(..., api_url=standin.api_url)``)."""
        return f"{self.root_url}/v3"

    def checkout_url(self, payment_id: str) -> str:
        return f"{self.root_url}{CHECKOUT_PATH}?orderId={payment_id}"

    def fail_next(self, method: str, path_prefix: str, *, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` API calls ``method path_prefix*`` with ``status`` (e.g. 500, 429)."""
        with self._lock:
            self._failures.append(_Failure(method.upper(), path_prefix, status, times))

    def set_status(self, payment_id: str, status: str) -> None:
        with self._lock:
            self.payments[payment_id]["status"] = status

    def decline_method(self, method_id: str) -> None:
        """Charges of this saved method are declined (``canceled``, reason ``permission_revoked``)."""
        self.declined_methods.add(method_id)

    def api_calls(self, method: str, prefix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def notification(self, event: str, object_id: str) -> dict[str, Any]:
        """The notification YooKassa sends for ``event`` about a payment or refund (a genuine body)."""
        with self._lock:
            obj = self.refunds[object_id] if event.startswith("refund.") else self.payments[object_id]
            return {"type": "notification", "event": event, "object": json.loads(json.dumps(obj))}

    def complete(self, payment_id: str, *, notify: bool = True) -> dict[str, Any]:
        """What the checkout page's "Оплатить" does (synchronously, from a test or the demo)."""
        return self._run(self._complete(payment_id, notify=notify))

    def cancel(self, payment_id: str, *, notify: bool = True) -> dict[str, Any]:
        return self._run(self._cancel(payment_id, "expired_on_confirmation", notify=notify))

    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            raise RuntimeError("the stand-in is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    # ------------------------------------------------------------------ routes
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v3/payments", self._create_payment)
        app.router.add_get("/v3/payments/{payment_id}", self._get_payment)
        app.router.add_post("/v3/payments/{payment_id}/cancel", self._cancel_payment)
        app.router.add_post("/v3/refunds", self._create_refund)
        app.router.add_get("/v3/refunds/{refund_id}", self._get_refund)
        app.router.add_get(CHECKOUT_PATH, self._checkout_page)
        app.router.add_post(CHECKOUT_PATH, self._checkout_submit)

    async def _api(
        self, request: web.Request, answer: Callable[[dict[str, Any] | None], Any]
    ) -> web.Response:
        """Auth, failure injection, idempotence and recording around one API call."""
        if self.latency:
            await asyncio.sleep(self.latency)
        body: dict[str, Any] | None = None
        if request.method == "POST" and request.can_read_body:
            try:
                parsed = await request.json()
            except ValueError:
                return _error(400, "invalid_request", "Request body is not JSON")
            body = parsed if isinstance(parsed, dict) else None
        path = request.path.removeprefix("/v3")
        key = request.headers.get("Idempotence-Key")
        record = RecordedRequest(request.method, path, key, body)
        with self._lock:
            self.requests.append(record)
            failure = next(
                (f for f in self._failures if f.method == request.method and path.startswith(f.prefix)), None
            )
            if failure is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
        response = await self._answer(request, body, key, answer, failure)
        record.status = response.status
        return response

    async def _answer(
        self,
        request: web.Request,
        body: dict[str, Any] | None,
        key: str | None,
        answer: Callable[[dict[str, Any] | None], Any],
        failure: _Failure | None,
    ) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return _error(401, "invalid_credentials", "Login or password is incorrect")
        if failure is not None:
            if failure.status == 429:
                return _error(429, "too_many_requests", "Too many requests")
            return _error(failure.status, "internal_server_error", "Internal server error")
        if request.method == "POST":
            if not key:
                return _error(400, "invalid_request", "Idempotence key not specified", "Idempotence-Key")
            fingerprint = request.path + json.dumps(body, sort_keys=True)
            with self._lock:
                seen = self._keys.get(key)
            if seen is not None:
                if seen.fingerprint != fingerprint:
                    return _error(
                        400, "invalid_request", "Idempotence key duplicated with other request parameters"
                    )
                return web.json_response(seen.body, status=seen.status)
            status, result = await answer(body)
            if status == 200:  # YooKassa replays successful answers for the key's 24 hours
                with self._lock:
                    self._keys[key] = _Idempotent(fingerprint, status, result)
            return web.json_response(result, status=status)
        status, result = await answer(body)
        return web.json_response(result, status=status)

    # ------------------------------------------------------------------ payments API
    async def _create_payment(self, request: web.Request) -> web.Response:
        async def answer(body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
            problem = self._validate_payment(body or {})
            if problem:
                return 400, _error_body("invalid_request", *problem)
            return 200, await self._new_payment(body or {})

        return await self._api(request, answer)

    def _validate_payment(self, body: dict[str, Any]) -> tuple[str, str] | None:
        amount = body.get("amount") or {}
        if _money(amount.get("value")) is None:
            return "Invalid amount value", "amount.value"
        if amount.get("currency") != "RUB":
            return "Invalid currency", "amount.currency"
        if not body.get("payment_method_id"):
            confirmation = body.get("confirmation") or {}
            if confirmation.get("type") != "redirect" or not confirmation.get("return_url"):
                return "Confirmation with a return_url is required", "confirmation"
        receipt = body.get("receipt")
        if receipt is not None:
            customer = receipt.get("customer") or {}
            if not customer.get("email") and not customer.get("phone"):
                return "Receipt customer email or phone is required", "receipt.customer"
            items = receipt.get("items") or []
            if not items:
                return "Receipt items are required", "receipt.items"
            total = Decimal(0)
            for item in items:
                item_amount = _money((item.get("amount") or {}).get("value"))
                if item_amount is None or item.get("vat_code") is None or not item.get("description"):
                    return "Receipt item is invalid", "receipt.items"
                total += item_amount * Decimal(str(item.get("quantity", "1")))
            if total != _money(amount.get("value")):
                return "Receipt items do not sum up to the payment amount", "receipt.items"
        if len(json.dumps(body.get("metadata") or {})) > 8192:
            return "Metadata is too long", "metadata"
        return None

    async def _new_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        payment_id = str(uuid.uuid4())
        value = f"{_money(body['amount']['value']):.2f}"
        payment: dict[str, Any] = {
            "id": payment_id,
            "status": "pending",
            "amount": {"value": value, "currency": body["amount"]["currency"]},
            "description": body.get("description", ""),
            "recipient": {"account_id": self.shop_id, "gateway_id": "100700"},
            "created_at": _now(),
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="milliseconds"),
            "test": True,
            "paid": False,
            "refundable": False,
            "metadata": body.get("metadata") or {},
        }
        if body.get("receipt") is not None:
            payment["receipt_registration"] = "pending"
        method_id = body.get("payment_method_id")
        with self._lock:
            self.payments[payment_id] = payment
            payment["_save_method"] = bool(body.get("save_payment_method"))
            payment["_capture"] = bool(body.get("capture"))
        if method_id:  # a saved method: charged at once, no confirmation
            if method_id in self.declined_methods or not self._method_known(method_id):
                await self._cancel(payment_id, "permission_revoked", party="yoo_money")
            else:
                await self._complete(payment_id, method_id=method_id)
        else:
            confirmation = body["confirmation"]
            payment["confirmation"] = {
                "type": "redirect",
                "return_url": confirmation["return_url"],
                "confirmation_url": self.checkout_url(payment_id),
            }
        return self._public(payment)

    def _method_known(self, method_id: str) -> bool:
        with self._lock:
            return any(
                (p.get("payment_method") or {}).get("id") == method_id and p["payment_method"].get("saved")
                for p in self.payments.values()
            )

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    async def _get_payment(self, request: web.Request) -> web.Response:
        payment_id = request.match_info["payment_id"]

        async def answer(_: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
            with self._lock:
                payment = self.payments.get(payment_id)
                if payment is None:
                    return 404, _error_body("not_found", "Payment not found")
                return 200, self._public(payment)

        return await self._api(request, answer)

    async def _cancel_payment(self, request: web.Request) -> web.Response:
        payment_id = request.match_info["payment_id"]

        async def answer(_: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
            payment = self.payments.get(payment_id)
            if payment is None:
                return 404, _error_body("not_found", "Payment not found")
            if payment["status"] not in ("pending", "waiting_for_capture"):
                return 400, _error_body("invalid_request", "Payment cannot be canceled")
            return 200, await self._cancel(payment_id, "canceled_by_merchant", party="merchant")

        return await self._api(request, answer)

    async def _complete(
        self, payment_id: str, *, method_id: str | None = None, notify: bool = True
    ) -> dict[str, Any]:
        with self._lock:
            payment = self.payments[payment_id]
            if payment["status"] != "pending":
                return self._public(payment)
            saved = bool(payment.get("_save_method")) or method_id is not None
            payment.update(
                status="succeeded",
                paid=True,
                refundable=True,
                captured_at=_now(),
                income_amount={
                    "value": f"{Decimal(payment['amount']['value']) * Decimal('0.965'):.2f}",
                    "currency": payment["amount"]["currency"],
                },
                refunded_amount={"value": "0.00", "currency": payment["amount"]["currency"]},
                payment_method={
                    "type": "bank_card",
                    "id": method_id or str(uuid.uuid4()),
                    "saved": saved,
                    "title": "Bank card *4477",
                    "card": {
                        "first6": "555555",
                        "last4": "4477",
                        "expiry_month": "01",
                        "expiry_year": "2030",
                    },
                },
            )
            if "receipt_registration" in payment:
                payment["receipt_registration"] = "succeeded"
            payment.pop("expires_at", None)
        if notify:
            await self._notify("payment.succeeded", payment_id)
        return self._public(payment)

    async def _cancel(
        self, payment_id: str, reason: str, *, party: str = "yoo_kassa", notify: bool = True
    ) -> dict[str, Any]:
        with self._lock:
            payment = self.payments[payment_id]
            if payment["status"] != "pending":
                return self._public(payment)
            payment.update(status="canceled", cancellation_details={"party": party, "reason": reason})
            payment.pop("confirmation", None)
        if notify:
            await self._notify("payment.canceled", payment_id)
        return self._public(payment)

    # ------------------------------------------------------------------ refunds API
    async def _create_refund(self, request: web.Request) -> web.Response:
        async def answer(body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
            body = body or {}
            with self._lock:
                payment = self.payments.get(str(body.get("payment_id")))
                amount = _money((body.get("amount") or {}).get("value"))
                if payment is None:
                    return 404, _error_body("not_found", "Payment not found")
                refunded = Decimal(payment.get("refunded_amount", {}).get("value", "0"))
                if payment["status"] != "succeeded" or amount is None:
                    return 400, _error_body("invalid_request", "Payment is not refundable")
                if amount + refunded > Decimal(payment["amount"]["value"]):
                    return 400, _error_body("invalid_request", "Refund amount exceeds the payment", "amount")
                refund = {
                    "id": str(uuid.uuid4()),
                    "payment_id": payment["id"],
                    "status": "succeeded",
                    "created_at": _now(),
                    "amount": {"value": f"{amount:.2f}", "currency": payment["amount"]["currency"]},
                    "description": body.get("description", ""),
                }
                self.refunds[refund["id"]] = refund
                total = refunded + amount
                payment["refunded_amount"] = {
                    "value": f"{total:.2f}",
                    "currency": payment["amount"]["currency"],
                }
                payment["refundable"] = total < Decimal(payment["amount"]["value"])
            await self._notify("refund.succeeded", refund["id"])
            return 200, dict(refund)

        return await self._api(request, answer)

    async def _get_refund(self, request: web.Request) -> web.Response:
        refund_id = request.match_info["refund_id"]

        async def answer(_: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
            with self._lock:
                refund = self.refunds.get(refund_id)
            if refund is None:
                return 404, _error_body("not_found", "Refund not found")
            return 200, dict(refund)

        return await self._api(request, answer)

    # ------------------------------------------------------------------ checkout page
    async def _checkout_page(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.query.get("orderId", ""))
        if payment is None:
            return web.Response(status=404, text="Платёж не найден", content_type="text/plain")
        amount = html.escape(f"{payment['amount']['value']} ₽")
        description = html.escape(str(payment.get("description", "")))
        form = ""
        if payment["status"] == "pending":
            form = (
                f'<form method="post" action="{CHECKOUT_PATH}?orderId={html.escape(payment["id"])}">'
                '<button name="action" value="pay">Оплатить</button> '
                '<button name="action" value="cancel">Отменить</button></form>'
            )
        page = (
            '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>ЮKassa (локально)</title>'
            f"</head><body><h1>Оплата {amount}</h1><p>{description}</p>"
            f"<p>Статус: {html.escape(payment['status'])}</p>{form}</body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def _checkout_submit(self, request: web.Request) -> web.Response:
        payment_id = request.query.get("orderId", "")
        if payment_id not in self.payments:
            return web.Response(status=404, text="Платёж не найден", content_type="text/plain")
        form = await request.post()
        if form.get("action") == "cancel":
            await self._cancel(payment_id, "expired_on_confirmation")
        else:
            await self._complete(payment_id)
        payment = self.payments[payment_id]
        back = html.escape(str((payment.get("confirmation") or {}).get("return_url") or ""))
        if payment["status"] == "succeeded":
            text = "Оплата прошла."
        elif payment["status"] == "canceled":
            text = "Платёж отменён."
        else:
            text = "Платёж обрабатывается."
        link = f'<p><a href="{back}">Вернуться в магазин</a></p>' if back else ""
        page = (
            f'<!doctype html><html lang="ru"><meta charset="utf-8"><body><h1>{text}</h1>{link}</body></html>'
        )
        return web.Response(text=page, content_type="text/html")

    # ------------------------------------------------------------------ notifications
    async def _notify(self, event: str, object_id: str) -> None:
        """POST the notification to the callback from 127.0.0.1; redeliver later on a non-200 answer."""
        if not self.callback_url:
            return
        body = self.notification(event, object_id)
        status = await self._deliver(event, object_id, body, attempt=1)
        if status != 200 and self.redelivery_delays:
            task = asyncio.ensure_future(self._redeliver(event, object_id, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: str, object_id: str, body: dict[str, Any], *, attempt: int) -> int:
        assert self.callback_url is not None
        status = 0
        connector = TCPConnector(local_addr=("127.0.0.1", 0))
        with contextlib.suppress(Exception):
            async with (
                ClientSession(connector=connector, timeout=ClientTimeout(total=30)) as session,
                session.post(self.callback_url, json=body, headers={"User-Agent": "YooKassa"}) as response,
            ):
                status = response.status
        with self._lock:
            self.deliveries.append(Delivery(event, object_id, status, attempt))
        return status

    async def _redeliver(self, event: str, object_id: str, body: dict[str, Any]) -> None:
        for attempt, delay in enumerate(self.redelivery_delays, start=2):
            await asyncio.sleep(delay)
            if await self._deliver(event, object_id, body, attempt=attempt) == 200:
                return

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await super()._shutdown()
