"""A local Google Sheets v4 stand-in: the endpoints gspread 6.2 calls, over real HTTP.

Serves ``/v4/spreadsheets/{id}`` (get), ``{id}:batchUpdate`` (addSheet, updateSheetProperties,
repeatCell, setDataValidation, addProtectedRange, insert/deleteDimension, updateCells, mergeCells,
sortRange, ...), ``{id}/values:batchGet``, ``values:batchUpdate``, ``values:batchClear`` and
``{id}/values/{range}`` (get, PUT update, ``:append``, ``:clear``) on an in-memory grid
(``sheets_grid.Spreadsheet``). Point gspread at it with a ``requests.Session`` that rewrites Google's
host (``carsbot.adapters.sheets.ApiBaseSession(standin.root_url)``).

Test controls: ``fail_next(429, times=2)`` (or 5xx), ``read_only`` (writes answer 403 like a
spreadsheet shared as viewer), ``down`` (every call 503), ``refuse_tokens`` (a revoked key), a request
log with ``count()`` and ``before`` hooks (run inside the request, e.g. an admin edit between the
sync's read and its write).
Admin-side edits for tests and the demo go through ``edit()`` (``with standin.edit("id") as book:``).

    with SheetsStandin() as sheets:
        sheets.create("sheet-1")
        ...  # CARSBOT_SHEETS_API_BASE=sheets.root_url
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from carsbot_dev.local.http_standin import BackgroundHttpServer
from carsbot_dev.local.sheets_grid import GridError, Spreadsheet

READS = {"get", "values.get", "values.batchGet"}
ACCESS_TOKEN = "standin-access-token"  # noqa: S105 - the stand-in's own fake bearer token


def fake_service_account(token_uri: str, email: str = "carsbot@carsbot-local.iam.gserviceaccount.com") -> str:
    """A service-account JSON key made up on the spot (fresh RSA key) whose tokens come from ``token_uri``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "carsbot-local",
            "private_key_id": "local",
            "private_key": pem,
            "client_email": email,
            "client_id": "1",
            "token_uri": token_uri,
        }
    )


@dataclass
class SheetsRequest:
    """One request the stand-in received (failed ones too)."""

    kind: str  # get | batchUpdate | values.get | values.batchGet | values.batchUpdate | values.update ...
    spreadsheet_id: str
    body: dict[str, Any] = field(default_factory=dict)
    params: dict[str, list[str]] = field(default_factory=dict)
    status: int = 200
    authorization: str | None = None

    @property
    def is_read(self) -> bool:
        return self.kind in READS


def _error(status: int, message: str, reason: str) -> web.Response:
    body = {"error": {"code": status, "message": message, "status": reason}}
    return web.json_response(body, status=status)


class SheetsStandin(BackgroundHttpServer):
    thread_name = "sheets-standin"
    client_max_size = 64 * 1024 * 1024

    def __init__(self) -> None:
        super().__init__()
        self.books: dict[str, Spreadsheet] = {}
        self.requests: list[SheetsRequest] = []
        self.read_only = False
        self.tokens_issued = 0
        self.down = False  # every call (token endpoint too) answers 503
        self.refuse_tokens = False  # the token endpoint answers invalid_grant (a revoked key)
        self._failures: list[tuple[int, int, str | None]] = []  # (status, times left, kind)
        self._before: list[Callable[[SheetsRequest], None]] = []
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ test controls
    def create(self, spreadsheet_id: str, title: str = "carsbot") -> Spreadsheet:
        with self._lock:
            book = Spreadsheet(spreadsheet_id, title)
            self.books[spreadsheet_id] = book
            return book

    @contextlib.contextmanager
    def edit(self, spreadsheet_id: str) -> Iterator[Spreadsheet]:
        """The spreadsheet, locked against concurrent requests (an admin editing in the browser)."""
        with self._lock:
            yield self.books[spreadsheet_id]

    def fail_next(self, status: int = 429, *, times: int = 1, kind: str | None = None) -> None:
        with self._lock:
            self._failures.append((status, times, kind))

    def before(self, hook: Callable[[SheetsRequest], None]) -> None:
        """Run ``hook(request)`` at the start of every later request (under the lock)."""
        with self._lock:
            self._before.append(hook)

    def clear_hooks(self) -> None:
        with self._lock:
            self._before.clear()
            self._failures.clear()

    def count(self, kind: str | None = None, *, reads: bool | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (kind is None or r.kind == kind) and (reads is None or r.is_read == reads)
            )

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def values(self, spreadsheet_id: str, tab: str) -> list[list[str]]:
        """A tab's formatted values (trailing blanks trimmed), as the API's values.get returns them."""
        with self._lock:
            return list(self.books[spreadsheet_id].read(f"'{tab}'").get("values", []))

    # ------------------------------------------------------------------ routes
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/v4/spreadsheets/{rest:.*}", self._handle)
        app.router.add_post("/token", self._token)

    async def _token(self, request: web.Request) -> web.Response:
        """Google's OAuth token endpoint for a service account's signed JWT (not verified here)."""
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not form.get(
            "assertion"
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        with self._lock:
            if self.down:
                return web.json_response({"error": "internal_failure"}, status=503)
            if self.refuse_tokens:
                body = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
                return web.json_response(body, status=400)
            self.tokens_issued += 1
        return web.json_response({"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"})

    async def _handle(self, request: web.Request) -> web.Response:
        rest = request.match_info["rest"]
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return _error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        params: dict[str, list[str]] = {}
        for key, value in request.query.items():
            params.setdefault(key.removesuffix("[]"), []).append(value)
        spreadsheet_id, kind, a1 = self._route(request.method, rest)
        record = SheetsRequest(kind=kind, spreadsheet_id=spreadsheet_id, body=body, params=params)
        record.authorization = request.headers.get("Authorization")
        with self._lock:
            self.requests.append(record)
            for hook in list(self._before):
                hook(record)
            failure = self._take_failure(kind)
            if failure is not None:
                record.status = failure
                return _error(
                    failure,
                    "Quota exceeded for quota metric 'Requests'",
                    "RESOURCE_EXHAUSTED" if failure == 429 else "UNAVAILABLE",
                )
            if self.down:
                record.status = 503
                return _error(503, "The service is currently unavailable.", "UNAVAILABLE")
            book = self.books.get(spreadsheet_id)
            if book is None:
                record.status = 404
                return _error(404, "Requested entity was not found.", "NOT_FOUND")
            if self.read_only and not record.is_read:
                record.status = 403
                return _error(403, "The caller does not have permission", "PERMISSION_DENIED")
            try:
                return web.json_response(self._dispatch(book, kind, a1, body, params))
            except GridError as exc:
                record.status = 400
                return _error(400, str(exc), "INVALID_ARGUMENT")
            except (KeyError, TypeError, ValueError) as exc:
                record.status = 400
                return _error(400, f"Invalid request: {exc!r}", "INVALID_ARGUMENT")

    @staticmethod
    def _route(method: str, rest: str) -> tuple[str, str, str]:
        if "/values/" in rest:
            spreadsheet_id, a1 = rest.split("/values/", 1)
            a1 = unquote(a1)
            for suffix, kind in ((":append", "values.append"), (":clear", "values.clear")):
                if a1.endswith(suffix):
                    return spreadsheet_id, kind, a1.removesuffix(suffix)
            return spreadsheet_id, "values.update" if method == "PUT" else "values.get", a1
        for suffix, kind in (
            ("/values:batchGet", "values.batchGet"),
            ("/values:batchUpdate", "values.batchUpdate"),
            ("/values:batchClear", "values.batchClear"),
            (":batchUpdate", "batchUpdate"),
        ):
            if rest.endswith(suffix):
                return rest.removesuffix(suffix), kind, ""
        return rest, "get", ""

    def _take_failure(self, kind: str) -> int | None:
        for index, (status, times, only) in enumerate(self._failures):
            if only is None or only == kind:
                if times <= 1:
                    del self._failures[index]
                else:
                    self._failures[index] = (status, times - 1, only)
                return status
        return None

    @staticmethod
    def _dispatch(
        book: Spreadsheet, kind: str, a1: str, body: dict[str, Any], params: dict[str, list[str]]
    ) -> dict[str, Any]:
        render = params.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
        option = params.get("valueInputOption", [body.get("valueInputOption", "RAW")])[0]
        if kind == "get":
            return book.metadata()
        if kind == "values.get":
            return book.read(a1, render)
        if kind == "values.batchGet":
            ranges = params.get("ranges", [])
            return {
                "spreadsheetId": book.spreadsheet_id,
                "valueRanges": [book.read(r, render) for r in ranges],
            }
        if kind == "values.update":
            return book.write(body.get("range") or a1, body.get("values", []), option)
        if kind == "values.append":
            return book.append(a1, body.get("values", []), option)
        if kind == "values.clear":
            return {"spreadsheetId": book.spreadsheet_id, "clearedRange": book.clear(a1)}
        if kind == "values.batchClear":
            return {
                "spreadsheetId": book.spreadsheet_id,
                "clearedRanges": [book.clear(r) for r in body.get("ranges", [])],
            }
        if kind == "values.batchUpdate":
            data = body.get("data", [])
            for item in data:  # Google validates every range before writing any
                book.parse(item["range"])
            responses = [book.write(item["range"], item.get("values", []), option) for item in data]
            return {
                "spreadsheetId": book.spreadsheet_id,
                "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
                "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
                "totalUpdatedSheets": len({item["range"].split("!")[0] for item in data}),
                "responses": responses,
            }
        if kind == "batchUpdate":
            saved = copy.deepcopy(book.sheets)  # all or nothing, like Google
            try:
                replies = [book.apply(req) for req in body.get("requests", [])]
            except (GridError, KeyError, TypeError, ValueError):
                book.sheets = saved
                raise
            return {"spreadsheetId": book.spreadsheet_id, "replies": replies}
        raise GridError(f"unknown call {kind}")
