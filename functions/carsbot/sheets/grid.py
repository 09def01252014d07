"""A tab as read (columns found by header, rows by key) and the bot-cell writes planned against it.

Writes are planned by row *key*, never by row number: ``Plan.relocate`` maps every key to the row where
a fresh read of the key column finds it just before writing, so rows sorted, inserted or deleted by an
admin in the meantime never receive another row's values. A key that vanished is skipped (the next sync
writes it again, wherever the row went). Each row becomes one ``ValueRange`` spanning the bot cells to
write, with ``None`` (JSON null: "leave the cell alone") in every column in between, so an admin cell is
never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from carsbot.adapters.sheets import RangeUpdate
from carsbot.sheets import layout
from carsbot.sheets.layout import Tab


@dataclass
class TabView:
    tab: Tab
    rows: list[list[str]]  # as read, header row first
    cols: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, tab: Tab, rows: list[list[str]]) -> TabView:
        return cls(tab, rows, layout.locate(tab, rows[0] if rows else []))

    @property
    def usable(self) -> bool:
        """The key column and every admin column have their headers."""
        return self.tab.key in self.cols and all(c.key in self.cols for c in self.tab.admin_columns)

    def missing_headers(self) -> list[str]:
        return [c.header for c in (*self.tab.columns, *self.tab.extra) if c.key not in self.cols]

    def get(self, row: int, key: str) -> str:
        col = self.cols.get(key)
        line = self.rows[row] if row < len(self.rows) else []
        return line[col].strip() if col is not None and col < len(line) else ""

    def data_rows(self) -> range:
        return range(1, len(self.rows))


KeyFn = Callable[[str], str | None]
RAW = "#raw:"


@dataclass
class _RowWrite:
    key: str
    cells: dict[int, Any]
    row: int | None  # row number as read (None: a new row)


@dataclass
class Plan:
    """Bot cells to write in one tab, by row key."""

    view: TabView
    key_of: KeyFn  # the normalised row key of a key-cell text (None: not a key)
    rows: dict[str, _RowWrite] = field(default_factory=dict)
    appended: list[str] = field(default_factory=list)
    fixed: dict[int, dict[int, Any]] = field(default_factory=dict)  # row -> col -> value (bot-only tabs)

    def set(self, key: str, row: int, col_key: str, value: Any) -> None:
        """Write ``value`` into the row's bot column ``col_key`` if it differs from what was read."""
        col = self.view.cols.get(col_key)
        if col is None:
            return
        text = "" if value is None else str(value)
        if self.view.get(row, col_key) == text.strip():
            return
        self.rows.setdefault(key, _RowWrite(key, {}, row)).cells[col] = text

    def set_at(self, row: int, col_key: str, value: Any) -> None:
        """A write into a row that has no usable key (garbage link, duplicate): by position, checked
        against the key cell's text when writing."""
        self.set(f"{RAW}{row}:{self.view.get(row, self.view.tab.key)}", row, col_key, value)

    def append(self, key: str, values: dict[str, Any]) -> None:
        """A new row (cells by column key) written below the last row."""
        cells = {
            self.view.cols[k]: ("" if v is None else v) for k, v in values.items() if k in self.view.cols
        }
        self.rows[key] = _RowWrite(key, cells, None)
        self.appended.append(key)

    def set_side(self, row: int, col_key: str, value: Any) -> None:
        """A cell of a bot-only block at a fixed position (no row key: nobody else writes there)."""
        col = self.view.cols.get(col_key)
        text = "" if value is None else str(value)
        if col is not None and self.view.get(row, col_key) != text:
            self.fixed.setdefault(row, {})[col] = value

    @property
    def empty(self) -> bool:
        return not self.rows and not self.fixed

    def key_range(self) -> str:
        letter = layout.col_letter(self.view.cols[self.view.tab.key])
        return f"{layout.quote(self.view.tab.title)}!{letter}:{letter}"

    def relocate(self, key_column: list[list[str]]) -> tuple[list[RangeUpdate], int]:
        """Range updates against a fresh read of the key column; also the number of rows skipped."""
        where: dict[str, int] = {}
        last = 0
        for index, line in enumerate(key_column):
            text = line[0].strip() if line else ""
            if text:
                last = index
            key = self.key_of(text) if index and text else None
            if key is not None:
                where.setdefault(key, index)
        next_row = max(last + 1, len(self.view.rows))
        updates: list[RangeUpdate] = []
        skipped = 0
        for write in self.rows.values():
            if write.row is None:
                if write.key in where:  # an admin added the same key meanwhile: theirs, not ours
                    skipped += 1
                    continue
                row = next_row
                next_row += 1
            elif write.key.startswith(RAW):
                text = write.key[len(RAW) :].split(":", 1)[1]
                line = key_column[write.row] if write.row < len(key_column) else []
                if (line[0].strip() if line else "") != text:
                    skipped += 1
                    continue
                row = write.row
            else:
                found = where.get(write.key)
                if found is None:
                    skipped += 1  # the row was deleted or its key changed after the read
                    continue
                row = found
            low, high = min(write.cells), max(write.cells)
            values = [write.cells.get(col) for col in range(low, high + 1)]
            updates.append(RangeUpdate(layout.span_a1(self.view.tab.title, row, low, high), [values]))
        for row, cells in self.fixed.items():
            low, high = min(cells), max(cells)
            values = [cells.get(col) for col in range(low, high + 1)]
            updates.append(RangeUpdate(layout.span_a1(self.view.tab.title, row, low, high), [values]))
        return updates, skipped
