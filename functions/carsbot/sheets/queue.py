"""Очередь: listings waiting for moderation -> rows; an admin's APPROVED/REJECTED -> publish or reject.

Approving moves the listing from "awaiting moderation" back to ``pending`` and queues it for the publish
function (published within a minute); rejecting records the decision and the reason. Each step is
conditional, so a sync that stopped halfway repeats without publishing twice (the publisher's own claim
is at-most-once besides).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from carsbot.adapters import moderation
from carsbot.adapters.db.models import ListingModel
from carsbot.core.contracts import ListingMessage
from carsbot.core.formatting import format_rub
from carsbot.sheets.grid import Plan, TabView
from carsbot.sheets.parse import CellError, fmt_dt, parse_decision

PREVIEW_CHARS = 300


@dataclass
class QueueOutcome:
    approved: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    waiting: int = 0
    problems: list[str] = field(default_factory=list)


def listing_key(text: str) -> str | None:
    return text or None


def _car(listing: ListingModel) -> str:
    parts = [listing.brand or "", listing.model or "", str(int(listing.year)) if listing.year else ""]
    return " ".join(p for p in parts if p) or "—"


def _preview(listing: ListingModel) -> str:
    lines = [_car(listing)]
    if listing.price:
        lines.append(format_rub(int(listing.price)))
    if listing.mileage:
        lines.append(f"пробег {int(listing.mileage)} км")
    if listing.city:
        lines.append(listing.city)
    text = " • ".join(lines)
    if listing.description:
        text += ". " + listing.description
    return text[:PREVIEW_CHARS]


def sync_queue(
    view: TabView | None, plan: Plan | None, send: Callable[[ListingMessage], object], now: datetime
) -> QueueOutcome:
    out = QueueOutcome()
    items = {moderation.listing_id_of(item): item for item in moderation.queue_items()}
    if view is None or plan is None:
        return out
    listings = {item.listing_id: item for item in ListingModel.batch_get(list(items))} if items else {}
    rows: dict[str, int] = {}
    for row in view.data_rows():
        key = view.get(row, "listing_id")
        if key in items and key in rows:  # a copied row: its decision is not read, so say so in the row
            plan.set_at(row, "result", f"дубликат строки {rows[key] + 1}: строка не учитывается")
            out.problems.append(f"Очередь, строка {row + 1}: дубликат объявления {key}")
        elif key in items:
            rows[key] = row
    for listing_id, item in sorted(items.items(), key=lambda kv: kv[1].updated_at or now):
        listing = listings.get(listing_id)
        at = rows.get(listing_id)
        if at is None:
            if item.owner == "PENDING" and listing is not None:
                plan.append(
                    listing_id, {**_cells(listing, item), "decision": "PENDING", "result": "ждёт решения"}
                )
                out.waiting += 1
            continue
        if item.owner != "PENDING" or listing is None:
            continue  # decided earlier (the result cell says how)
        try:
            decision = parse_decision(view.get(at, "decision"))
        except CellError as exc:
            plan.set(listing_id, at, "result", f"ошибка: {exc}")
            out.problems.append(f"Очередь, {listing_id}: {exc}")
            continue
        if decision == "APPROVED":
            found = moderation.move_listing(listing_id, "pending", now)
            if found in (None, "pending"):
                send(ListingMessage(listing_id=listing_id, post_id=listing.post_id))
                result = f"✓ одобрено, отправлено в канал ({fmt_dt(now)})"
            else:
                result = f"не опубликовано: объявление уже «{found}»"
            moderation.decide(item, "APPROVED", result, None, now)
            out.approved.append(listing_id)
        elif decision == "REJECTED":
            reason = view.get(at, "reason") or None
            moderation.move_listing(listing_id, moderation.REJECTED, now)
            result = f"✗ отклонено ({fmt_dt(now)})" + (f": {reason}" if reason else "")
            moderation.decide(item, "REJECTED", result, reason, now)
            out.rejected.append(listing_id)
        else:
            out.waiting += 1
            result = "ждёт решения"
        plan.set(listing_id, at, "result", result)
        for name, value in _cells(listing, item).items():
            plan.set(listing_id, at, name, value)
    return out


def _cells(listing: ListingModel, item: moderation.StateModel) -> dict[str, object]:
    received = (item.data or {}).get("received_at")
    return {
        "listing_id": listing.listing_id,
        "car": _car(listing),
        "price": int(listing.price) if listing.price else "",
        "source": listing.source_link or "",
        "preview": _preview(listing),
        "received": fmt_dt(datetime.fromisoformat(received)) if received else fmt_dt(listing.created_at),
    }


def utcnow() -> datetime:
    return datetime.now(UTC)
