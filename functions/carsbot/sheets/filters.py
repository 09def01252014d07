"""Фильтры: parameter rows -> the stored filters the extract function reads (``adapters.filters_source``).

Each parameter is found by its label in the Параметр column. A valid value replaces the stored one, a
blank one falls back to the deployment's configuration, and an invalid one is reported in the row's
Статус cell while the last good value stays in force.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from carsbot.adapters.filters_source import load_filters, save_filters
from carsbot.sheets import layout
from carsbot.sheets.grid import Plan, TabView
from carsbot.sheets.layout import FILTER_PARAMS
from carsbot.sheets.parse import CellError, parse_bool, parse_confidence, parse_keywords, parse_money

PARSERS: dict[str, Callable[[str], Any]] = {
    "include_keywords": lambda text: parse_keywords(text) or None,
    "exclude_keywords": lambda text: parse_keywords(text) or None,
    "min_price": parse_money,
    "max_price": parse_money,
    "min_confidence": parse_confidence,
    "moderation": parse_bool,
}
LABELS = {layout.norm_header(label): name for name, (label, _) in FILTER_PARAMS.items()}


def filter_key(text: str) -> str | None:
    return LABELS.get(layout.norm_header(text))


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def stored_values() -> dict[str, str]:
    """The values in force as an admin would type them (``sheets init`` fills re-created rows with them)."""
    stored = load_filters()
    return {name: _shown(stored[name]) for name in FILTER_PARAMS if stored.get(name) not in (None, [], False)}


def sync_filters(
    view: TabView | None, channel_keywords: dict[str, Any] | None, plan: Plan | None
) -> list[str]:
    """Apply the tab (when readable) and the per-channel keywords; the problems found."""
    stored = load_filters()
    data = dict(stored)
    problems: list[str] = []
    if view is not None and plan is not None:
        seen: set[str] = set()
        for row in view.data_rows():
            name = filter_key(view.get(row, "param"))
            if name is None or name in seen:
                continue
            seen.add(name)
            text = view.get(row, "value")
            try:
                value = PARSERS[name](text)
            except CellError as exc:
                kept = stored.get(name)
                note = f"; действует прежнее: {_shown(kept)}" if kept not in (None, []) else ""
                plan.set(name, row, "status", f"ошибка: {exc}{note}")
                problems.append(f"Фильтры, {FILTER_PARAMS[name][0]}: {exc}")
                continue
            data[name] = value
            plan.set(name, row, "status", "✓ по умолчанию" if value is None else f"✓ {_shown(value)}")
    if channel_keywords is not None:  # None: the Каналы tab was unreadable, keep what is stored
        data["channels"] = channel_keywords
    if data != stored:
        save_filters(data)
    return problems
