"""Google Sheets adapter on gspread: batched reads and exact-range writes under a request budget.

* Credentials: the service account's JSON key lives in Secrets Manager (``sheets_credentials_secret``);
  google-auth signs a JWT and exchanges it at the key's ``token_uri`` for a bearer token, refreshed by
  ``AuthorizedSession``. ``sheets_api_base`` points the client at another host (the local stand-in):
  every request to ``https://sheets.googleapis.com`` is rewritten there by the session.
* Requests go through gspread's low-level ``HTTPClient`` methods (``values_batch_get``,
  ``values_batch_update``, ``batch_update``, ``fetch_sheet_metadata``) with the spreadsheet id, instead
  of ``Client.open_by_key`` whose ``Spreadsheet`` object costs one metadata read each time it is built.
* Retries: gspread 6.2.1's ``BackOffHTTPClient`` never stops retrying (its backoff is capped at 128 s
  and the cap is also its retry condition, so ``wait <= _MAX_BACKOFF`` always holds; fixed only
  upstream). ``BoundedRetryHTTPClient`` retries 408/429/5xx and connection errors a bounded number of
  times with exponential backoff (honouring ``Retry-After``), then raises ``SheetsUnavailable``.
* The service account's token: google-auth fetches it inside the request; an unreachable token endpoint
  is retried like a connection error, a refused key (``invalid_grant``) is ``SheetsForbidden``.
* Budget: every attempt, retries included, is charged to a ``RequestBudget``; a sync that would spend
  more than its budget stops with ``RequestBudgetExceeded`` (Google allows 60 reads and 60 writes a
  minute per user, and the sync runs every minute).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gspread
import requests
from google.auth.exceptions import RefreshError, TransportError
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from carsbot.config import Settings

GOOGLE_SHEETS_HOST = "https://sheets.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


class SheetsError(Exception):
    """A Sheets call failed; ``reason`` is a short machine-readable word for logs and metrics."""

    reason = "error"


class SheetsUnavailable(SheetsError):
    reason = "unavailable"  # 429/5xx/connection errors after every retry


class SheetsForbidden(SheetsError):
    reason = "forbidden"  # the service account may not read (or, for writes, edit) the spreadsheet


class SheetsNotFound(SheetsError):
    reason = "not_found"


class SheetsBadRequest(SheetsError):
    reason = "bad_request"  # e.g. a range naming a tab that does not exist


class SheetsNotConfigured(SheetsError):
    reason = "not_configured"


class RequestBudgetExceeded(SheetsError):
    reason = "budget"


class RequestBudget:
    """A fixed number of Google API requests (attempts) one sync may spend."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.reads = 0
        self.writes = 0

    def spend(self, method: str) -> None:
        if self.used >= self.limit:
            raise RequestBudgetExceeded(f"the sync's budget of {self.limit} Google API requests is spent")
        self.used += 1
        if method.lower() == "get":
            self.reads += 1
        else:
            self.writes += 1


def _rewrite(url: str, base: str) -> str:
    return base.rstrip("/") + url[len(GOOGLE_SHEETS_HOST) :] if url.startswith(GOOGLE_SHEETS_HOST) else url


class ApiBaseSession(requests.Session):
    """A plain session sending Google's Sheets URLs to ``base`` (no credentials: the local stand-in)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.api_base = base

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return super().request(method, _rewrite(str(url), self.api_base), *args, **kwargs)


def _authorized_session(credentials: Any, base: str | None) -> requests.Session:
    from google.auth.transport.requests import AuthorizedSession

    if base is None:
        return AuthorizedSession(credentials)
    target: str = base

    class _Rewriting(AuthorizedSession):  # type: ignore[misc]
        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            return super().request(method, _rewrite(str(url), target), *args, **kwargs)

    return _Rewriting(credentials)


class BoundedRetryHTTPClient(HTTPClient):
    """gspread's HTTP client with a bounded retry of its own and a per-sync request budget."""

    max_attempts = 4
    backoff_base = 1.0
    backoff_cap = 16.0

    def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
        super().__init__(auth, session)
        self.budget: RequestBudget | None = None
        self.sleep: Callable[[float], None] = time.sleep
        self.timeout = (10.0, 60.0)

    def _wait(self, attempt: int, response: requests.Response | None) -> float:
        wait = min(self.backoff_cap, self.backoff_base * 2**attempt)
        header = response.headers.get("Retry-After") if response is not None else None
        if header and header.isdigit():
            wait = min(self.backoff_cap, max(wait, float(header)))
        return wait

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
        last: Exception | None = None
        for attempt in range(self.max_attempts):
            if self.budget is not None:
                self.budget.spend(method)
            response: requests.Response | None = None
            try:
                return super().request(method, endpoint, *args, **kwargs)
            except APIError as err:
                response = err.response
                if err.code not in RETRY_STATUSES:
                    raise _translate(err) from None
                last = err
            except (requests.ConnectionError, requests.Timeout, TransportError) as err:
                last = err  # TransportError: Google's token endpoint unreachable (google-auth)
            except RefreshError as err:  # the token endpoint answered with an error
                if not getattr(err, "retryable", False):  # e.g. invalid_grant: the key was revoked
                    reason = str(err.args[0] if err.args else err)[:200]
                    raise SheetsForbidden(f"the service account's token was refused: {reason}") from None
                last = err
            if attempt + 1 < self.max_attempts:
                self.sleep(self._wait(attempt, response))
        raise SheetsUnavailable(f"Google Sheets unavailable after {self.max_attempts} attempts: {last}")


def _translate(err: APIError) -> SheetsError:
    message = f"{err.code}: {err.error.get('message', '')}"[:300]
    if err.code in (401, 403):
        return SheetsForbidden(message)
    if err.code == 404:
        return SheetsNotFound(message)
    return SheetsBadRequest(message)


@dataclass(frozen=True)
class RangeUpdate:
    """Values for one exact A1 range. ``None`` leaves a cell as it is; ``""`` clears it."""

    range: str
    values: list[list[Any]]


def quote_tab(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


class SheetsGateway:
    """One spreadsheet. Every method is one Google API request (plus bounded retries)."""

    def __init__(self, client: gspread.Client, spreadsheet_id: str) -> None:
        if not spreadsheet_id:
            raise SheetsNotConfigured("no spreadsheet id configured (CARSBOT_SHEETS_SPREADSHEET_ID)")
        self.client = client
        self.http: BoundedRetryHTTPClient = client.http_client  # type: ignore[assignment]
        self.spreadsheet_id = spreadsheet_id

    def start(self, limit: int) -> RequestBudget:
        """A fresh request budget for the next unit of work (one sync, one init)."""
        budget = RequestBudget(limit)
        self.http.budget = budget
        return budget

    @property
    def budget(self) -> RequestBudget | None:
        return self.http.budget

    def metadata(self) -> dict[str, Any]:
        """Tabs, grid sizes, frozen rows and protected ranges (no cell data)."""
        return dict(self.http.fetch_sheet_metadata(self.spreadsheet_id))

    def tab_titles(self) -> list[str]:
        return [s["properties"]["title"] for s in self.metadata().get("sheets", [])]

    def read_ranges(self, ranges: Sequence[str]) -> list[list[list[str]]]:
        """``values:batchGet``: the formatted values of each range (rows, trailing blanks trimmed)."""
        if not ranges:
            return []
        body = self.http.values_batch_get(
            self.spreadsheet_id,
            list(ranges),
            params={"majorDimension": "ROWS", "valueRenderOption": "FORMATTED_VALUE"},
        )
        return [[[str(v) for v in row] for row in vr.get("values", [])] for vr in body.get("valueRanges", [])]

    def read_tabs(self, tabs: Sequence[str]) -> tuple[dict[str, list[list[str]]], list[str]]:
        """Whole tabs in one request: ``({title: rows}, missing titles)``.

        A missing (renamed, deleted) tab makes Google reject the whole batch; then the tab list is
        fetched once and the tabs that exist are read again (three requests instead of one).
        """
        try:
            values = self.read_ranges([quote_tab(t) for t in tabs])
            return dict(zip(tabs, values, strict=True)), []
        except SheetsBadRequest:
            existing = set(self.tab_titles())
        present = [t for t in tabs if t in existing]
        values = self.read_ranges([quote_tab(t) for t in present])
        return dict(zip(present, values, strict=True)), [t for t in tabs if t not in existing]

    def write(self, updates: Sequence[RangeUpdate], *, input_option: str = "RAW") -> int:
        """``values:batchUpdate`` of exact ranges in one request; the number of cells written.

        RAW by default: text from Telegram (titles starting with ``=``) is never evaluated as a formula.
        """
        if not updates:
            return 0
        body = {
            "valueInputOption": input_option,
            "data": [{"range": u.range, "majorDimension": "ROWS", "values": u.values} for u in updates],
        }
        reply = self.http.values_batch_update(self.spreadsheet_id, body=body)
        return int(reply.get("totalUpdatedCells", 0))

    def structure(self, requests_: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """``spreadsheets:batchUpdate`` (tabs, formats, validation, protection) in one request."""
        if not requests_:
            return {}
        return dict(self.http.batch_update(self.spreadsheet_id, {"requests": list(requests_)}))


def build_client(settings: Settings) -> gspread.Client:
    """A gspread client authorised with the service account from Secrets Manager.

    With ``sheets_api_base`` set and no key stored (local mode), requests go there without credentials.
    """
    from carsbot.adapters.secrets import SecretMissingError, get_secret

    base = settings.sheets_api_base
    try:
        info = get_secret(settings.sheets_credentials_secret).json()
    except SecretMissingError:
        if base is None:
            raise SheetsNotConfigured(
                f"the service account key secret {settings.sheets_credentials_secret!r} has no value"
            ) from None
        info = {}
    if not info:
        if base is None:
            raise SheetsNotConfigured("the service account key secret is not a JSON key")
        session: requests.Session = ApiBaseSession(base)
    else:
        from google.oauth2.service_account import Credentials

        try:
            credentials = Credentials.from_service_account_info(info, scopes=list(SCOPES))
        except (ValueError, KeyError) as exc:  # never echo the key itself
            raise SheetsNotConfigured(f"the service account key is unusable: {type(exc).__name__}") from None
        session = _authorized_session(credentials, base)
    return gspread.Client(auth=None, session=session, http_client=BoundedRetryHTTPClient)  # type: ignore[arg-type]


def open_gateway(settings: Settings) -> SheetsGateway:
    return SheetsGateway(build_client(settings), settings.sheets_spreadsheet_id)
