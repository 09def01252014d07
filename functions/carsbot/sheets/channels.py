"""Каналы: admin rows -> the channel registry (differences only), registry -> the bot columns.

The admin columns of every row are compared with a snapshot of what the previous sync saw (StateTable
``sheets#channels``), and only what changed is applied, so a channel paused from the bot or the CLI is not
resumed by a sheet nobody touched. A row whose link is new registers the channel; unticking "Активен"
pauses it; a link that was in the snapshot and is in no row any more (the row was deleted) removes it.
Channels registered elsewhere and absent from the sheet get a row of their own. A row whose link was
blanked (e.g. by merging cells) but still shows the bot's channel id is reported, not treated as deleted.
A tab with no rows at all while channels are registered (cleared, or re-created by ``sheets init`` after a
rename) removes nothing: the rows are restored from the registry and the snapshot (link, on/off, keywords,
seller contacts) and the problem is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from carsbot.adapters.db.models import ChannelModel, StateModel
from carsbot.channels import ChannelRegistry, ChannelStatus, InvalidChannelRef, parse_channel_ref
from carsbot.sheets.grid import Plan, TabView
from carsbot.sheets.parse import (
    CellError,
    fmt_dt,
    parse_bool,
    parse_phone,
    parse_username,
    split_channel_keywords,
)

SNAPSHOT_KEY = "sheets#channels"
STATE_RU = {"active": "активен", "paused": "на паузе", "removed": "отключён"}


def channel_key(text: str) -> str | None:
    try:
        return parse_channel_ref(text).ref
    except InvalidChannelRef:
        return None


@dataclass
class ChannelsOutcome:
    added: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    appended: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    keywords: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # channel id -> include/exclude


def _load_snapshot() -> dict[str, Any]:
    try:
        return dict(StateModel.get(SNAPSHOT_KEY, consistent_read=True).data or {})
    except StateModel.DoesNotExist:
        return {}


def _state_text(item: ChannelModel) -> str:
    if item.join_error and item.status == "active":
        return f"ошибка: {item.join_error[:80]}"
    if item.status == "active" and item.channel_id is None:
        return "ожидает подключения"
    return STATE_RU.get(item.status or "active", item.status or "")


def sync_channels(
    view: TabView, registry: ChannelRegistry, posts_seen: dict[int, int], plan: Plan
) -> ChannelsOutcome:
    out = ChannelsOutcome()
    snapshot = _load_snapshot()
    items = {item.ref: item for item in ChannelModel.scan(consistent_read=True)}
    by_id = {int(i.channel_id): i.ref for i in items.values() if i.channel_id is not None}
    seen: dict[str, int] = {}
    new_snapshot: dict[str, Any] = {}
    for row in view.data_rows():
        link = view.get(row, "link")
        if not link:
            stray = view.get(row, "channel_id")
            if stray.lstrip("-").isdigit() and int(stray) in by_id:
                kept = by_id[int(stray)]
                seen.setdefault(kept, row)
                new_snapshot[kept] = snapshot.get(kept, {})
                plan.set_at(row, "check", "нет ссылки (объединённые ячейки?): канал оставлен как был")
                out.problems.append(f"Каналы, строка {row + 1}: пустая ссылка")
            continue
        parsed = channel_key(link)
        if parsed is None:
            plan.set_at(row, "check", "неверная ссылка: нужен @name, t.me/name или t.me/+HASH")
            out.problems.append(f"Каналы, строка {row + 1}: неверная ссылка")
            continue
        ref = parsed
        if ref in seen:
            plan.set_at(row, "check", f"дубликат строки {seen[ref] + 1}: строка не учитывается")
            out.problems.append(f"Каналы, строка {row + 1}: дубликат")
            continue
        seen[ref] = row
        previous = snapshot.get(ref)
        admin = _admin_values(view, row, previous)
        problem = admin.pop("problem", None)
        if problem:
            out.problems.append(f"Каналы, строка {row + 1}: {problem}")
        _apply(ref, link, admin, previous, items, registry, out)
        if admin["active"] is None and previous:  # keep what was in force for the unparsable cell
            admin["active"] = previous.get("active")
        new_snapshot[ref] = admin
        item = items.get(ref)
        if item is not None and item.channel_id is not None and admin.get("keywords"):
            include, exclude = split_channel_keywords(admin["keywords"])
            out.keywords[str(int(item.channel_id))] = {"include": include, "exclude": exclude}
        _bot_cells(plan, ref, row, items.get(ref), posts_seen, problem or "")
    live = [ref for ref in snapshot if ref in items and items[ref].status != ChannelStatus.REMOVED]
    emptied = bool(live) and not any(
        view.get(row, "link") or view.get(row, "channel_id") for row in view.data_rows()
    )
    if emptied:  # cleared or re-created (`sheets init` after a rename/delete): restore, never mass-remove
        out.problems.append(
            "«Каналы»: во вкладке нет ни одной строки — каналы не отключены, строки восстановлены"
        )
    for ref in [] if emptied else live:
        if ref not in seen:
            registry.remove(ref)
            out.removed.append(ref)
            items[ref] = ChannelModel.get(ref, consistent_read=True)
    for ref, item in sorted(items.items()):
        if ref in seen or (ref in snapshot and not emptied) or item.status == ChannelStatus.REMOVED:
            continue
        active = item.status == ChannelStatus.ACTIVE
        last: dict[str, Any] = {"keywords": "", "seller_phone": "", "seller_username": ""}
        last.update(snapshot.get(ref, {}))
        last["active"] = active
        admin_cells = {k: last[k] for k in ("keywords", "seller_phone", "seller_username")}
        admin_cells.update(link=item.link or ref, active="TRUE" if active else "FALSE")
        plan.append(ref, {**admin_cells, **_cells(item, posts_seen)})
        new_snapshot[ref] = last
        if last["keywords"] and item.channel_id is not None:
            include, exclude = split_channel_keywords(last["keywords"])
            out.keywords[str(int(item.channel_id))] = {"include": include, "exclude": exclude}
        out.appended.append(ref)
    if new_snapshot != snapshot:
        StateModel(SNAPSHOT_KEY, data=new_snapshot).save()
    return out


def _admin_values(view: TabView, row: int, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The row's admin values; an unparsable one keeps the value in force (``problem`` says which)."""
    values: dict[str, Any] = {"keywords": view.get(row, "keywords")}
    problems = []
    try:
        active = parse_bool(view.get(row, "active"))
        values["active"] = True if active is None else active  # a new link with the box left blank is on
    except CellError as exc:
        values["active"] = None
        problems.append(f"«Активен»: {exc}")
    for name, parse in (("seller_phone", parse_phone), ("seller_username", parse_username)):
        try:
            values[name] = parse(view.get(row, name))
        except CellError as exc:
            values[name] = (previous or {}).get(name, "")
            problems.append(f"«{view.tab.column(name).header}»: {exc}")
    if problems:
        values["problem"] = "; ".join(problems)
    return values


def _apply(
    ref: str,
    link: str,
    admin: dict[str, Any],
    previous: dict[str, Any] | None,
    items: dict[str, ChannelModel],
    registry: ChannelRegistry,
    out: ChannelsOutcome,
) -> None:
    item = items.get(ref)
    active = admin.get("active")
    touched = False
    if item is None or (item.status == ChannelStatus.REMOVED and previous is None):
        if active is None:
            return
        registry.add(
            link, seller_phone=admin["seller_phone"] or None, seller_username=admin["seller_username"] or None
        )
        out.added.append(ref)
        touched = True
        if active is False:
            registry.pause(ref)
            out.paused.append(ref)
    elif active is not None and (previous is None or previous.get("active") != active):
        if active and item.status != ChannelStatus.ACTIVE:
            registry.resume(ref) if item.status == ChannelStatus.PAUSED else registry.add(link)
            out.resumed.append(ref)
            touched = True
        elif not active and item.status == ChannelStatus.ACTIVE:
            registry.pause(ref)
            out.paused.append(ref)
            touched = True
    if item is not None and previous is not None:
        changed = [
            getattr(ChannelModel, name).set(admin[name] or None)
            if admin[name]
            else getattr(ChannelModel, name).remove()
            for name in ("seller_phone", "seller_username")
            if previous.get(name, "") != admin[name]
        ]
        if changed:
            item.update(actions=changed)
            touched = True
    if touched:  # re-read what was changed (a steady sync reads no channel twice)
        items[ref] = ChannelModel.get(ref, consistent_read=True)


def _cells(item: ChannelModel, posts_seen: dict[int, int]) -> dict[str, Any]:
    channel_id = int(item.channel_id) if item.channel_id is not None else None
    return {
        "title": item.title or "",
        "channel_id": channel_id if channel_id is not None else "",
        "state": _state_text(item),
        "added": fmt_dt(item.added_at),
        "posts_seen": posts_seen.get(channel_id, 0) if channel_id is not None else "",
        "published": int(item.published_count or 0),
        "last_post": fmt_dt(item.last_post_at),
    }


def _bot_cells(
    plan: Plan, ref: str, row: int, item: ChannelModel | None, posts_seen: dict[int, int], check: str
) -> None:
    if item is not None:
        for key, value in _cells(item, posts_seen).items():
            plan.set(ref, row, key, value)
    plan.set(ref, row, "check", check)
