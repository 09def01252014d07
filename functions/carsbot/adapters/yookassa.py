"""YooKassa (API v3) through the official ``yookassa`` SDK: payments, refunds, notifications.

What this adapter adds to the SDK, and why:

* **A timeout on every call.** The SDK (3.13) calls ``requests.Session.request`` without a ``timeout``,
  so a stalled connection hangs until the Lambda is killed. ``_BoundedApiClient`` replaces the SDK's
  ``ApiClient.execute`` with the same request plus ``timeout=(connect, read)``; ``Payment``/``Refund``
  subclasses make the SDK's class methods use it. A transport failure or timeout becomes
  ``YooKassaUnavailable`` (the SDK would turn it into an ``AttributeError`` on ``None.status_code``).
* **Explicit idempotence keys.** Without one the SDK makes a new key per call (so a retry could create a
  second payment). Callers pass the key stored with the order; YooKassa honours it for 24 hours.
* **No logging of payment objects.** The SDK's request/response logging stays off (it would log bodies
  with receipts and card data); callers log ids only.
* **Plain results.** ``ProviderPayment``/``ProviderRefund`` carry what the application checks, so no SDK
  object leaves this module.

Credentials (shop id and secret key) come from Secrets Manager (``CARSBOT_YOOKASSA_SECRET``); the API URL
is configurable (a local stand-in in tests and local mode).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
from yookassa import Configuration, Payment, Refund
from yookassa.client import ApiClient
from yookassa.domain.common import RequestObject
from yookassa.domain.exceptions import ApiError, NotFoundError
from yookassa.domain.notification import WebhookNotificationFactory

from carsbot.adapters.secrets import SecretMissingError, get_secret
from carsbot.config import Settings, get_settings

CONNECT_TIMEOUT = 3.05


class YooKassaError(Exception):
    """Base class of the adapter's errors (messages carry ids and codes only)."""


class YooKassaUnavailable(YooKassaError):
    """Transport failure, timeout, 5xx or 429: retry later with the same idempotence key."""


class YooKassaRejected(YooKassaError):
    """YooKassa refused the request (4xx other than 404/429): retrying it unchanged will not help."""


class YooKassaNotFound(YooKassaError):
    """No such payment or refund in this shop."""


class NotANotification(ValueError):
    """The body is not a YooKassa notification."""


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    status: str  # pending | waiting_for_capture | succeeded | canceled
    amount: Decimal
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)
    paid: bool = False
    confirmation_url: str | None = None
    payment_method_id: str | None = None
    payment_method_saved: bool = False
    payment_method_title: str | None = None
    refunded_amount: Decimal = Decimal(0)
    cancellation_reason: str | None = None


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    payment_id: str
    status: str  # pending | succeeded | canceled
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Notification:
    """A parsed notification: what it *claims* (trust comes from the re-fetch)."""

    event: str
    object_id: str
    status: str | None
    payment_id: str | None  # the payment of a refund notification; the object itself for payments


class _BoundedApiClient(ApiClient):  # type: ignore[misc]
    """The SDK's API client with a timeout on every HTTP call and transport errors made explicit."""

    read_timeout: float = 10.0

    def request(  # type: ignore[no-untyped-def]
        self, method="", path="", query_params=None, headers=None, body=None
    ):
        if isinstance(body, RequestObject):
            body.validate()
            body = dict(body)
        request_headers = self.prepare_request_headers(headers)
        try:
            raw = self.execute(body, method, path, query_params, request_headers)
        except requests.RequestException as exc:
            raise YooKassaUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        if raw.status_code in (202, 429) or raw.status_code >= 500:  # YooKassa: "retry later"
            raise YooKassaUnavailable(f"{method} {path}: HTTP {raw.status_code}")
        if raw.status_code != 200:
            try:
                self._ApiClient__handle_error(raw)  # the SDK's mapping to BadRequestError, NotFoundError...
            except ValueError:  # not even a JSON error body (a proxy's HTML page)
                raise YooKassaUnavailable(f"{method} {path}: HTTP {raw.status_code}") from None
        try:
            return raw.json()
        except ValueError:
            raise YooKassaUnavailable(f"{method} {path}: answer is not JSON") from None

    def execute(self, body, method, path, query_params, request_headers):  # type: ignore[no-untyped-def]
        # Same request as the SDK's execute(), plus the timeout it lacks, and without its body logging.
        session = self.get_session()
        try:
            return session.request(
                method,
                self.endpoint + path,
                params=query_params,
                headers=request_headers,
                json=body,
                verify=self.configuration.verify,
                timeout=(CONNECT_TIMEOUT, self.read_timeout),
            )
        finally:
            session.close()


class _Payment(Payment):  # type: ignore[misc]
    def __init__(self) -> None:
        self.client = _BoundedApiClient()


class _Refund(Refund):  # type: ignore[misc]
    def __init__(self) -> None:
        self.client = _BoundedApiClient()


def _decimal(amount: Any) -> Decimal:
    return Decimal(str(getattr(amount, "value", None) or "0"))


def _to_payment(response: Any) -> ProviderPayment:
    method = response.payment_method
    confirmation = response.confirmation
    cancellation = response.cancellation_details
    return ProviderPayment(
        id=str(response.id),
        status=str(response.status),
        amount=_decimal(response.amount),
        currency=str(response.amount.currency),
        metadata={str(k): str(v) for k, v in (response.metadata or {}).items()},
        paid=bool(response.paid),
        confirmation_url=getattr(confirmation, "confirmation_url", None) if confirmation else None,
        payment_method_id=str(method.id) if method is not None and method.id else None,
        payment_method_saved=bool(method.saved) if method is not None else False,
        payment_method_title=getattr(method, "title", None) if method is not None else None,
        refunded_amount=_decimal(response.refunded_amount),
        cancellation_reason=getattr(cancellation, "reason", None) if cancellation else None,
    )


def _to_refund(response: Any) -> ProviderRefund:
    return ProviderRefund(
        id=str(response.id),
        payment_id=str(response.payment_id),
        status=str(response.status),
        amount=_decimal(response.amount),
        currency=str(response.amount.currency),
    )


def _call(operation: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except YooKassaError:
        raise
    except NotFoundError:
        raise YooKassaNotFound(operation) from None
    except ApiError as exc:
        code = getattr(exc, "HTTP_CODE", 0)
        if code == 429 or code >= 500:
            raise YooKassaUnavailable(f"{operation}: HTTP {code}") from None
        raise YooKassaRejected(f"{operation}: HTTP {code}") from None


class YooKassaClient:
    """One shop's API. The SDK keeps credentials in class attributes: configured once per process."""

    _configure_lock = threading.Lock()

    def __init__(self, shop_id: str, secret_key: str, *, api_url: str, timeout: float = 10.0) -> None:
        with self._configure_lock:
            Configuration.configure(shop_id, secret_key, api_url=api_url.rstrip("/"))
            Configuration.logger = None  # never log request/response bodies
            _BoundedApiClient.read_timeout = timeout
        self.shop_id = shop_id

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> YooKassaClient:
        settings = settings or get_settings()
        # A missing or incomplete secret is an operator's fix, not the payer's fault: "retry later"
        # (the callback answers 503 so YooKassa redelivers; the bot says "try later").
        try:
            secret = get_secret(settings.yookassa_secret)
        except SecretMissingError:
            raise YooKassaUnavailable("the YooKassa secret is missing or empty") from None
        shop_id, key = secret.field("shop_id", "account_id"), secret.field("secret_key", "secret")
        if not shop_id or not key:
            raise YooKassaUnavailable("the YooKassa secret has no shop_id/secret_key")
        return cls(shop_id, key, api_url=settings.yookassa_api_url, timeout=settings.yookassa_timeout)

    def create_payment(self, params: dict[str, Any], *, idempotence_key: str) -> ProviderPayment:
        response = _call("create payment", _Payment.create, params, idempotence_key)
        return _to_payment(response)

    def get_payment(self, payment_id: str) -> ProviderPayment:
        if not payment_id or "/" in payment_id or len(payment_id) > 64:
            raise YooKassaNotFound("get payment: malformed id")
        return _to_payment(_call("get payment", _Payment.find_one, payment_id))

    def create_refund(
        self, payment_id: str, amount: Decimal, currency: str, *, idempotence_key: str, description: str = ""
    ) -> ProviderRefund:
        params: dict[str, Any] = {
            "payment_id": payment_id,
            "amount": {"value": f"{amount:.2f}", "currency": currency},
        }
        if description:
            params["description"] = description[:250]
        return _to_refund(_call("create refund", _Refund.create, params, idempotence_key))

    def get_refund(self, refund_id: str) -> ProviderRefund:
        if not refund_id or "/" in refund_id or len(refund_id) > 64:
            raise YooKassaNotFound("get refund: malformed id")
        return _to_refund(_call("get refund", _Refund.find_one, refund_id))


def parse_notification(data: Any) -> Notification:
    """Parse a notification body (already JSON-decoded) with the SDK's ``WebhookNotificationFactory``."""
    try:
        notification = WebhookNotificationFactory().create(data)
        obj = notification.object
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise NotANotification(str(exc)[:200]) from None
    object_id = getattr(obj, "id", None)
    if not isinstance(object_id, str) or not object_id:
        raise NotANotification("the notification object has no id")
    event = str(notification.event)
    payment_id = getattr(obj, "payment_id", None) if event.startswith("refund.") else object_id
    status = getattr(obj, "status", None)
    return Notification(
        event=event,
        object_id=object_id,
        status=str(status) if status is not None else None,
        payment_id=str(payment_id) if payment_id else None,
    )
