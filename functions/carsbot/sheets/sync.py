"""One sync between the spreadsheet and DynamoDB (run every minute by functions/sheets/app.py).

1. One ``values:batchGet`` reads every tab (three requests when a tab was renamed or deleted).
2. Admin columns are applied to DynamoDB: channels (differences only), filters, manual grants and
   revocations (exactly once), moderation decisions. A tab that is missing or lost a needed header is
   skipped whole: its DynamoDB state stays as it was, and the problem is reported.
3. Bot columns are planned by row key and compared with what was read; only changed cells are written.
   When anything is to be written, one more ``values:batchGet`` of the key columns re-locates every row
   (sorted, inserted, deleted meanwhile) and one ``values:batchUpdate`` writes the cells.

A steady-state sync (nothing changed) is one request. Everything applied to DynamoDB is idempotent or
guarded by markers, so a sync that fails halfway (Google down, the sheet shared read-only, a Lambda
timeout) is simply repeated by the next one. Problems go to Логи (once per change, not every minute)
and to the ``SheetsSyncProblems`` metric; a failed sync to ``SheetsSyncFailed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from carsbot.adapters import events, queues
from carsbot.adapters.db.models import StateModel
from carsbot.adapters.sheets import RangeUpdate, SheetsBadRequest, SheetsError, SheetsGateway
from carsbot.channels import ChannelRegistry
from carsbot.config import Settings
from carsbot.core.contracts import ListingMessage
from carsbot.observability import add_metric, logger
from carsbot.sheets import analytics, layout
from carsbot.sheets.channels import channel_key, sync_channels
from carsbot.sheets.filters import filter_key, sync_filters
from carsbot.sheets.grid import Plan, TabView
from carsbot.sheets.layout import ANALYTICS, CHANNELS, FILTERS, LOG_CAP, LOGS, QUEUE, SUBSCRIBERS, TABS
from carsbot.sheets.queue import listing_key, sync_queue
from carsbot.sheets.subscribers import sync_subscribers, user_key

PROBLEMS_KEY = "sheets#problems"  # digest of the problems last reported in Логи
FAILURE_KEY = "sheets#failure"  # digest of the failure last reported (absent: the last sync worked)
KEYS: dict[str, Callable[[str], str | None]] = {
    CHANNELS.title: channel_key,
    FILTERS.title: filter_key,
    SUBSCRIBERS.title: user_key,
    QUEUE.title: listing_key,
    ANALYTICS.title: lambda text: text or None,
}


@dataclass
class SyncResult:
    requests: int = 0
    reads: int = 0
    writes: int = 0
    cells_written: int = 0
    skipped_rows: int = 0
    problems: list[str] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SheetsSync:
    def __init__(
        self,
        settings: Settings,
        gateway: SheetsGateway,
        *,
        send: Callable[[ListingMessage], object] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.gateway = gateway
        self.send = send or (lambda message: queues.send(settings.publish_queue_url, message))
        self.clock = clock
        self.registry = ChannelRegistry()

    def run(self) -> SyncResult:
        result = SyncResult()
        budget = self.gateway.start(self.settings.sheets_request_budget)
        try:
            self._run(result)
        finally:
            result.requests, result.reads, result.writes = budget.used, budget.reads, budget.writes
        return result

    def _view(self, tab: layout.Tab, tabs: dict[str, list[list[str]]], result: SyncResult) -> TabView | None:
        if tab.title not in tabs:
            result.problems.append(
                f"нет вкладки «{tab.title}» (переименована или удалена): не синхронизирована"
            )
            return None
        view = TabView.of(tab, tabs[tab.title])
        if not view.usable:
            missing = ", ".join(view.missing_headers())
            result.problems.append(f"«{tab.title}»: нет заголовков {missing}; запустите carsbot sheets init")
            return None
        return view

    def _run(self, result: SyncResult) -> None:
        now = self.clock()
        tabs, _ = self.gateway.read_tabs([t.title for t in TABS])
        views = {tab.title: self._view(tab, tabs, result) for tab in TABS}
        plans = {title: Plan(view, KEYS[title]) for title, view in views.items() if view and title in KEYS}

        subs = sync_subscribers(
            views[SUBSCRIBERS.title], plans.get(SUBSCRIBERS.title), self.settings.plans, now
        )
        contacts = analytics.contact_requests_today(subs.users, now)
        stats = analytics.load_or_refresh(subs.users, contacts, now)
        posts_seen = {int(k): int(v) for k, v in stats.get("posts_seen", {}).items()}
        keywords = None
        channels_view = views[CHANNELS.title]
        if channels_view is not None:
            channels = sync_channels(channels_view, self.registry, posts_seen, plans[CHANNELS.title])
            keywords = channels.keywords
            result.problems += channels.problems
            result.changes |= {
                k: v for k, v in channels.__dict__.items() if k not in ("problems", "keywords") and v
            }
        result.problems += sync_filters(views[FILTERS.title], keywords, plans.get(FILTERS.title))
        queue = sync_queue(views[QUEUE.title], plans.get(QUEUE.title), self.send, now)
        result.problems += subs.problems + queue.problems
        for name, value in (
            ("granted", subs.granted),
            ("revoked", subs.revoked),
            ("approved", queue.approved),
            ("rejected", queue.rejected),
        ):
            if value:
                result.changes[name] = value
        analytics_view = views[ANALYTICS.title]
        if analytics_view is not None:
            analytics.write(analytics_view, plans[ANALYTICS.title], stats)

        self._report(result, now)
        updates = self._log_block(views[LOGS.title])
        self._write(plans, updates, result)

    def _report(self, result: SyncResult, now: datetime) -> None:
        """Problems into Логи once per change of the set of problems (not every minute)."""
        if result.problems:
            add_metric("SheetsSyncProblems", len(result.problems))
        record_once(result.problems, result.problems, now)

    @staticmethod
    def _log_block(view: TabView | None) -> list[RangeUpdate]:
        """Логи is the bot's alone: rewritten as a block when it differs (newest on top, capped)."""
        if view is None:
            return []
        wanted = [
            [e.get("at", ""), e.get("kind", ""), e.get("details", "")] for e in events.recent()[:LOG_CAP]
        ]
        cols = [view.cols["at"], view.cols["kind"], view.cols["details"]]
        current = [[view.get(r, k) for k in ("at", "kind", "details")] for r in view.data_rows()]
        current = [row for row in current if any(row)]
        if current == wanted:
            return []
        low, high = min(cols), max(cols)
        rows = max(len(wanted), len(current))
        block: list[list[Any]] = []
        for index in range(rows):
            line: list[Any] = [None] * (high - low + 1)
            values = wanted[index] if index < len(wanted) else ["", "", ""]
            for col, value in zip(cols, values, strict=True):
                line[col - low] = value
            block.append(line)
        first, last = layout.col_letter(low), layout.col_letter(high)
        return [RangeUpdate(f"{layout.quote(LOGS.title)}!{first}2:{last}{rows + 1}", block)]

    def _write(self, plans: dict[str, Plan], extra: list[RangeUpdate], result: SyncResult) -> None:
        pending = [plan for plan in plans.values() if not plan.empty]
        updates = list(extra)
        if pending:
            fresh = self.gateway.read_ranges([plan.key_range() for plan in pending])
            for plan, column in zip(pending, fresh, strict=True):
                planned, skipped = plan.relocate(column)
                updates += planned
                result.skipped_rows += skipped
        if not updates:
            return
        try:
            result.cells_written = self.gateway.write(updates)
        except SheetsBadRequest as exc:
            if "exceeds grid limits" not in str(exc):
                raise
            self._grow(updates)
            result.cells_written = self.gateway.write(updates)

    def _grow(self, updates: list[RangeUpdate]) -> None:
        """Rows appended past the grid's end: add rows to those tabs, then write again."""
        sheets = {
            s["properties"]["title"]: s["properties"] for s in self.gateway.metadata().get("sheets", [])
        }
        requests = []
        for title, props in sheets.items():
            needed = max(
                (_last_row(u.range) for u in updates if u.range.startswith(layout.quote(title))), default=0
            )
            have = props.get("gridProperties", {}).get("rowCount", 0)
            if needed > have:
                requests.append(
                    {
                        "appendDimension": {
                            "sheetId": props["sheetId"],
                            "dimension": "ROWS",
                            "length": needed - have + 500,
                        }
                    }
                )
        self.gateway.structure(requests)


def _last_row(a1: str) -> int:
    cells = a1.rsplit("!", 1)[-1].split(":")[-1]
    digits = "".join(ch for ch in cells if ch.isdigit())
    return int(digits) if digits else 0


def record_once(problems: list[str], basis: list[str], now: datetime, key: str = PROBLEMS_KEY) -> None:
    """``problems`` into Логи unless the last report under ``key`` had the same ``basis`` (a digest)."""
    digest = hashlib.sha256("\n".join(sorted(basis)).encode()).hexdigest()
    try:
        previous = StateModel.get(key, consistent_read=True).owner
    except StateModel.DoesNotExist:
        previous = None
    if previous == digest:
        return
    events.record_many([("sheets", p) for p in problems[:50]], now)
    StateModel(key, owner=digest).save()


def _recovered(now: datetime) -> None:
    """After a failed sync, the first good one says so in Логи (and a later failure is reported again)."""
    try:
        failure = StateModel.get(FAILURE_KEY, consistent_read=True)
    except StateModel.DoesNotExist:
        return
    events.record("sheets", "синхронизация с Google Sheets снова работает", now)
    failure.delete()


FAILURE_RU = {
    "unavailable": "Google Sheets не отвечает; синхронизация повторится через минуту",
    "forbidden": "нет доступа к таблице: откройте её сервисному аккаунту как редактору (или ключ отозван)",
    "not_found": "таблица не найдена: проверьте SheetsSpreadsheetId",
    "budget": "синхронизации не хватило лимита запросов к Google; повторится через минуту",
    "bad_request": "Google отклонил запрос синхронизации",
}


def run_sync(settings: Settings, gateway: SheetsGateway) -> SyncResult:
    """A sync whose Sheets failure is reported (metric, one Логи event per kind of failure) instead of raised.

    An outage reports once, not every minute; the Логи tab shows the event as soon as Google is back.
    """
    try:
        result = SheetsSync(settings, gateway).run()
    except SheetsError as exc:
        add_metric("SheetsSyncFailed")
        logger.warning("sheets sync failed", extra={"reason": exc.reason, "error": str(exc)[:300]})
        result = SyncResult(problems=[f"Google Sheets: {exc.reason}: {str(exc)[:200]}"])
        details = f"{FAILURE_RU.get(exc.reason, 'синхронизация не удалась')} ({exc.reason}: {str(exc)[:150]})"
        record_once([details], [f"failed: {exc.reason}"], datetime.now(UTC), FAILURE_KEY)
        budget = gateway.budget
        if budget is not None:
            result.requests, result.reads, result.writes = budget.used, budget.reads, budget.writes
        return result
    add_metric("SheetsRequests", result.requests)
    _recovered(datetime.now(UTC))
    return result
