"""``carsbot sheets init``: create or repair the console's template in an existing spreadsheet.

Adds missing tabs (frozen header row, room for their rows), missing headers (after the last used
column, so admins' own columns and moved columns stay where they are), missing Фильтры parameter rows,
the "Как пользоваться" tab, and per tab: bold headers, grey bot-owned columns protected with a warning,
checkboxes for on/off columns and dropdowns for plans and moderation decisions. It never deletes or
rewrites an admin's rows. Run twice, the second run only reads (two requests) and changes nothing:
formatting is re-applied only to tabs whose carsbot protections are missing or out of place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carsbot.adapters.sheets import RangeUpdate, SheetsGateway, quote_tab
from carsbot.core.subscriptions import Plan
from carsbot.sheets import layout
from carsbot.sheets.layout import FILTER_PARAMS, FILTERS, HELP_TEXT, HELP_TITLE, TABS, Tab

GREY = {"red": 0.93, "green": 0.93, "blue": 0.93}
TAG = "carsbot:"  # prefix of the descriptions of the protected ranges init owns


@dataclass
class InitReport:
    created_tabs: list[str] = field(default_factory=list)
    headers_added: list[str] = field(default_factory=list)
    rows_added: list[str] = field(default_factory=list)
    formatted_tabs: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created_tabs or self.headers_added or self.rows_added or self.formatted_tabs)


def _grid(sheet_id: int, col: int | None = None, row0: int = 0, row1: int | None = None) -> dict[str, int]:
    rng = {"sheetId": sheet_id, "startRowIndex": row0}
    if row1 is not None:
        rng["endRowIndex"] = row1
    if col is not None:
        rng |= {"startColumnIndex": col, "endColumnIndex": col + 1}
    return rng


def _validation(col: layout.Column, plans: Sequence[Plan]) -> dict[str, Any] | None:
    if col.kind == "bool":
        return {"condition": {"type": "BOOLEAN"}, "strict": False}
    if col.kind == "choice":
        values = [{"userEnteredValue": v} for v in col.choices]
        return {"condition": {"type": "ONE_OF_LIST", "values": values}, "strict": True, "showCustomUi": True}
    if col.kind == "plan":  # a dropdown of plans; days and dates may still be typed (not strict)
        values = [{"userEnteredValue": p.title} for p in plans]
        return {"condition": {"type": "ONE_OF_LIST", "values": values}, "strict": False, "showCustomUi": True}
    return None


class TemplateBuilder:
    """``filter_values``: the Фильтры values in force (``sheets.filters.stored_values``); a parameter row
    init adds (a new or re-created tab) gets its value, so re-creating the tab resets no filter."""

    def __init__(
        self, gateway: SheetsGateway, plans: Sequence[Plan], filter_values: Mapping[str, str] | None = None
    ) -> None:
        self.gateway = gateway
        self.plans = list(plans)
        self.filter_values = dict(filter_values or {})

    def run(self, budget: int = 12) -> InitReport:
        report = InitReport()
        used = self.gateway.start(budget)
        sheets = {s["properties"]["title"]: s for s in self.gateway.metadata().get("sheets", [])}
        missing = [t for t in (*[tab.title for tab in TABS], HELP_TITLE) if t not in sheets]
        if missing:
            adds = [{"addSheet": {"properties": self._new_tab(t)}} for t in missing]
            replies = self.gateway.structure(adds).get("replies", [])
            for reply in replies:
                props = reply["addSheet"]["properties"]
                sheets[props["title"]] = {"properties": props, "protectedRanges": []}
            report.created_tabs = missing
        ranges = [f"{quote_tab(tab.title)}!1:1" for tab in TABS]
        ranges += [quote_tab(FILTERS.title), f"{quote_tab(HELP_TITLE)}!A:A"]
        values = self.gateway.read_ranges(ranges)
        headers = {tab.title: (values[i][0] if values[i] else []) for i, tab in enumerate(TABS)}
        updates: list[RangeUpdate] = []
        positions: dict[str, dict[str, int]] = {}
        for tab in TABS:
            positions[tab.title] = self._headers(tab, headers[tab.title], updates, report)
        updates += self._filter_rows(values[len(TABS)], positions[FILTERS.title], report, self.filter_values)
        help_rows = [row[0] if row else "" for row in values[len(TABS) + 1]]
        if help_rows != [line for line in HELP_TEXT]:
            updates.append(
                RangeUpdate(f"{quote_tab(HELP_TITLE)}!A1:A{len(HELP_TEXT)}", [[line] for line in HELP_TEXT])
            )
            if HELP_TITLE not in report.created_tabs:
                report.rows_added.append(HELP_TITLE)
        grow = []
        for tab in TABS:
            props = sheets[tab.title]["properties"]
            have = props.get("gridProperties", {}).get("columnCount", 26)
            needed = max(positions[tab.title].values()) + 1
            if needed > have:  # headers added after the last column: make room first
                grow.append(
                    {
                        "appendDimension": {
                            "sheetId": props["sheetId"],
                            "dimension": "COLUMNS",
                            "length": needed - have,
                        }
                    }
                )
        self.gateway.structure(grow)
        self.gateway.write(updates)
        formatting: list[dict[str, Any]] = []
        for tab in TABS:
            sheet = sheets[tab.title]
            requests = self._format(tab, sheet, positions[tab.title])
            if requests:
                formatting += requests
                report.formatted_tabs.append(tab.title)
        self.gateway.structure(formatting)
        report.requests = used.used
        return report

    @staticmethod
    def _new_tab(title: str) -> dict[str, Any]:
        tab = next((t for t in TABS if t.title == title), None)
        rows = tab.rows if tab else 100
        cols = max(26, len(tab.columns) + len(tab.extra) + 2) if tab else 4
        grid: dict[str, int] = {"rowCount": rows, "columnCount": cols}
        if tab is not None:
            grid["frozenRowCount"] = 1
        return {"title": title, "gridProperties": grid}

    @staticmethod
    def _headers(tab: Tab, row: list[str], updates: list[RangeUpdate], report: InitReport) -> dict[str, int]:
        found = layout.locate(tab, row)
        next_free = len(row)
        for col in tab.columns:
            if col.key not in found:
                found[col.key] = next_free
                updates.append(RangeUpdate(layout.cell_a1(tab.title, 0, next_free), [[col.header]]))
                report.headers_added.append(f"{tab.title}/{col.header}")
                next_free += 1
        if tab.extra and any(c.key not in found for c in tab.extra):
            start = max(next_free, max(found.values()) + 2)  # a blank column between the blocks
            for offset, col in enumerate(c for c in tab.extra if c.key not in found):
                found[col.key] = start + offset
                updates.append(RangeUpdate(layout.cell_a1(tab.title, 0, start + offset), [[col.header]]))
                report.headers_added.append(f"{tab.title}/{col.header}")
        return found

    @staticmethod
    def _filter_rows(
        rows: list[list[str]], cols: dict[str, int], report: InitReport, filter_values: Mapping[str, str]
    ) -> list[RangeUpdate]:
        """Missing parameter rows are added at the end (with the value in force); descriptions kept."""
        param_col, help_col, value_col = cols["param"], cols["help"], cols["value"]
        seen: dict[str, int] = {}
        for index, row in enumerate(rows[1:], start=1):
            label = layout.norm_header(row[param_col]) if param_col < len(row) else ""
            if label:
                seen.setdefault(label, index)
        updates = []
        next_row = max(len(rows), 1)
        for name, (label, description) in FILTER_PARAMS.items():
            found = seen.get(layout.norm_header(label))
            if found is None:
                updates.append(RangeUpdate(layout.cell_a1(FILTERS.title, next_row, param_col), [[label]]))
                if filter_values.get(name):
                    cell = layout.cell_a1(FILTERS.title, next_row, value_col)
                    updates.append(RangeUpdate(cell, [[filter_values[name]]]))
                updates.append(
                    RangeUpdate(layout.cell_a1(FILTERS.title, next_row, help_col), [[description]])
                )
                report.rows_added.append(f"{FILTERS.title}/{label}")
                next_row += 1
            else:
                row = rows[found]
                if (row[help_col] if help_col < len(row) else "") != description:
                    updates.append(
                        RangeUpdate(layout.cell_a1(FILTERS.title, found, help_col), [[description]])
                    )
        return updates

    def _format(self, tab: Tab, sheet: dict[str, Any], cols: dict[str, int]) -> list[dict[str, Any]]:
        props = sheet["properties"]
        sheet_id = props["sheetId"]
        grid = props.get("gridProperties", {})
        wanted = {f"{TAG}{tab.title}:{c.key}": cols[c.key] for c in (*tab.bot_columns, *tab.extra)}
        current = {
            p.get("description", ""): p
            for p in sheet.get("protectedRanges", [])
            if str(p.get("description", "")).startswith(TAG)
        }
        in_place = all(
            name in current and current[name]["range"].get("startColumnIndex") == col
            for name, col in wanted.items()
        )
        if in_place and grid.get("frozenRowCount", 0) >= 1 and grid.get("rowCount", 0) >= tab.rows:
            return []
        requests: list[dict[str, Any]] = [
            {
                "updateSheetProperties": {
                    "properties": {
                        "sheetId": sheet_id,
                        "gridProperties": {
                            "frozenRowCount": 1,
                            "rowCount": max(tab.rows, grid.get("rowCount", 0)),
                        },
                    },
                    "fields": "gridProperties.frozenRowCount,gridProperties.rowCount",
                }
            },
            {
                "repeatCell": {
                    "range": _grid(sheet_id, row0=0, row1=1),
                    "cell": {"userEnteredFormat": {"textFormat": {"bold": True}}},
                    "fields": "userEnteredFormat.textFormat.bold",
                }
            },
        ]
        for name, protected in current.items():
            if name not in wanted or protected["range"].get("startColumnIndex") != wanted[name]:
                requests.append({"deleteProtectedRange": {"protectedRangeId": protected["protectedRangeId"]}})
        for col in (*tab.columns, *tab.extra):
            index = cols[col.key]
            if col.owner == "bot":
                requests.append(
                    {
                        "repeatCell": {
                            "range": _grid(sheet_id, index, row0=0),
                            "cell": {"userEnteredFormat": {"backgroundColor": GREY}},
                            "fields": "userEnteredFormat.backgroundColor",
                        }
                    }
                )
                name = f"{TAG}{tab.title}:{col.key}"
                if name not in current or current[name]["range"].get("startColumnIndex") != index:
                    protected = {"range": _grid(sheet_id, index), "description": name, "warningOnly": True}
                    requests.append({"addProtectedRange": {"protectedRange": protected}})
            rule = _validation(col, self.plans)
            if rule is not None:
                requests.append(
                    {"setDataValidation": {"range": _grid(sheet_id, index, row0=1), "rule": rule}}
                )
        return requests
