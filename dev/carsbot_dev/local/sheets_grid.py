"""An in-memory spreadsheet with the semantics of the Sheets v4 API that the stand-in serves.

Values are kept as Google keeps user-entered values (str, int/float, bool); A1 ranges parse as Google
parses them (``'Каналы'!A2:C``, ``Каналы!B:B``, ``Каналы``, ``A1:B2`` on the first tab). Structural
requests (``spreadsheets.batchUpdate``) apply to the grid the way Google applies them: ``insertDimension``
and ``deleteDimension`` shift rows (and the cells under them), ``sortRange`` reorders rows, merges keep
the value of the top-left cell only. Formats, validations and protections are recorded per range.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

Cell = str | int | float | bool | None


class GridError(ValueError):
    """A request Google would answer with 400 INVALID_ARGUMENT."""


def col_letters(index: int) -> str:
    """0-based column index -> letters (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_index(letters: str) -> int:
    value = 0
    for char in letters.upper():
        value = value * 26 + (ord(char) - 64)
    return value - 1


_CELL = re.compile(r"^([A-Za-z]*)(\d*)$")


@dataclass(frozen=True)
class GridRange:
    """A parsed A1 range: 0-based, end-exclusive; ``None`` ends mean "to the end of the grid"."""

    sheet: str
    row0: int = 0
    row1: int | None = None
    col0: int = 0
    col1: int | None = None


def split_sheet(a1: str) -> tuple[str | None, str]:
    """``'It''s'!A1:B2`` -> (``It's``, ``A1:B2``); ``Tab`` -> (``Tab``, ``""``) when it is no cell."""
    a1 = a1.strip()
    if a1.startswith("'"):
        end = 1
        name = ""
        while end < len(a1):
            if a1[end] == "'":
                if end + 1 < len(a1) and a1[end + 1] == "'":
                    name += "'"
                    end += 2
                    continue
                break
            name += a1[end]
            end += 1
        rest = a1[end + 1 :]
        return name, rest[1:] if rest.startswith("!") else rest
    if "!" in a1:
        name, rest = a1.split("!", 1)
        return name, rest
    return None, a1


def _parse_corner(text: str, a1: str) -> tuple[int | None, int | None]:
    match = _CELL.match(text)
    if not match or not text:
        raise GridError(f"Unable to parse range: {a1}")
    letters, digits = match.groups()
    return (int(digits) - 1 if digits else None, col_index(letters) if letters else None)


@dataclass
class Sheet:
    sheet_id: int
    title: str
    index: int
    rows: list[list[Cell]] = field(default_factory=list)
    row_count: int = 1000
    column_count: int = 26
    frozen_rows: int = 0
    hidden: bool = False
    formats: list[dict[str, Any]] = field(default_factory=list)
    validations: list[dict[str, Any]] = field(default_factory=list)
    protected: list[dict[str, Any]] = field(default_factory=list)
    merges: list[dict[str, int]] = field(default_factory=list)

    def get(self, row: int, col: int) -> Cell:
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def set(self, row: int, col: int, value: Cell) -> None:
        if row >= self.row_count or col >= self.column_count:
            raise GridError(
                f"Range exceeds grid limits. Max rows: {self.row_count}, max columns: {self.column_count}"
            )
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        while len(line) <= col:
            line.append(None)
        line[col] = value

    def used_rows(self) -> int:
        for row in range(len(self.rows) - 1, -1, -1):
            if any(v not in (None, "") for v in self.rows[row]):
                return row + 1
        return 0

    def properties(self) -> dict[str, Any]:
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "hidden": self.hidden,
            "gridProperties": {
                "rowCount": self.row_count,
                "columnCount": self.column_count,
                **({"frozenRowCount": self.frozen_rows} if self.frozen_rows else {}),
            },
        }


def render(value: Cell, option: str) -> Any:
    """A cell as ``valueRenderOption`` renders it (FORMATTED_VALUE: strings, booleans as TRUE/FALSE)."""
    if option == "UNFORMATTED_VALUE":
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def parse_input(value: Any, option: str) -> Cell:
    """A written value as ``valueInputOption`` stores it (USER_ENTERED parses booleans and numbers)."""
    if option != "USER_ENTERED" or not isinstance(value, str):
        return value  # type: ignore[no-any-return]
    upper = value.strip().upper()
    if upper in {"TRUE", "FALSE"}:
        return upper == "TRUE"
    if _NUMBER.match(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value else number
    return value


class Spreadsheet:
    """One spreadsheet: tabs by title, values by A1 range, structural requests."""

    def __init__(self, spreadsheet_id: str, title: str = "carsbot") -> None:
        self.spreadsheet_id = spreadsheet_id
        self.title = title
        self.sheets: list[Sheet] = [Sheet(sheet_id=0, title="Лист1", index=0)]
        self._next_sheet_id = 1000
        self._next_protected_id = 1

    # ------------------------------------------------------------------ tabs
    def sheet(self, title: str) -> Sheet:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise GridError(f"Unable to parse range: {title}")

    def sheet_by_id(self, sheet_id: int) -> Sheet:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise GridError(f"No grid with id: {sheet_id}")

    def metadata(self) -> dict[str, Any]:
        return {
            "spreadsheetId": self.spreadsheet_id,
            "properties": {"title": self.title, "locale": "ru_RU", "timeZone": "Europe/Moscow"},
            "sheets": [
                {
                    "properties": s.properties(),
                    "protectedRanges": list(s.protected),
                    "merges": list(s.merges),
                }
                for s in sorted(self.sheets, key=lambda s: s.index)
            ],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit",
        }

    # ------------------------------------------------------------------ ranges
    def parse(self, a1: str) -> GridRange:
        name, cells = split_sheet(a1)
        if name is None:
            # A bare name that is a tab's title means the whole tab; otherwise cells on the first tab.
            if any(s.title == cells for s in self.sheets):
                return GridRange(cells)
            name = sorted(self.sheets, key=lambda s: s.index)[0].title
        self.sheet(name)
        if not cells:
            return GridRange(name)
        first, _, last = cells.partition(":")
        row0, col0 = _parse_corner(first, a1)
        if last:
            row1, col1 = _parse_corner(last, a1)
        else:
            row1, col1 = row0, col0
        return GridRange(
            name,
            row0=row0 or 0,
            row1=None if row1 is None else row1 + 1,
            col0=col0 or 0,
            col1=None if col1 is None else col1 + 1,
        )

    def a1(self, rng: GridRange, rows: int, cols: int) -> str:
        title = "'" + rng.sheet.replace("'", "''") + "'"
        if rows == 0 or cols == 0:
            return f"{title}!{col_letters(rng.col0)}{rng.row0 + 1}"
        return (
            f"{title}!{col_letters(rng.col0)}{rng.row0 + 1}:"
            f"{col_letters(rng.col0 + cols - 1)}{rng.row0 + rows}"
        )

    def read(self, a1: str, render_option: str = "FORMATTED_VALUE") -> dict[str, Any]:
        rng = self.parse(a1)
        sheet = self.sheet(rng.sheet)
        row1 = min(rng.row1 if rng.row1 is not None else sheet.row_count, sheet.used_rows())
        values: list[list[Any]] = []
        for row in range(rng.row0, row1):
            line = sheet.rows[row] if row < len(sheet.rows) else []
            col1 = min(rng.col1 if rng.col1 is not None else sheet.column_count, len(line))
            cells = [render(line[c], render_option) for c in range(rng.col0, col1)]
            while cells and cells[-1] in ("", None):
                cells.pop()
            values.append(cells)
        while values and not values[-1]:
            values.pop()
        body: dict[str, Any] = {
            "range": self.a1(rng, max(1, len(values)), max((len(r) for r in values), default=1)),
            "majorDimension": "ROWS",
        }
        if values:
            body["values"] = values
        return body

    def write(self, a1: str, values: list[list[Any]], input_option: str) -> dict[str, Any]:
        rng = self.parse(a1)
        sheet = self.sheet(rng.sheet)
        rows = len(values)
        cols = max((len(r) for r in values), default=0)
        if rng.row1 is not None and rng.row0 + rows > rng.row1:
            raise GridError(
                f"Requested writing within range [{a1}], but tried writing to row {rng.row0 + rows}"
            )
        if rng.col1 is not None and rng.col0 + cols > rng.col1:
            raise GridError(f"Requested writing within range [{a1}], but tried writing to column beyond it")
        cells = 0
        for r, line in enumerate(values):
            for c, value in enumerate(line):
                if value is None:  # a null in a ValueRange leaves the cell as it is
                    continue
                stored = parse_input(value, input_option)
                sheet.set(rng.row0 + r, rng.col0 + c, None if stored == "" else stored)
                cells += 1
        return {
            "spreadsheetId": self.spreadsheet_id,
            "updatedRange": self.a1(rng, rows, cols),
            "updatedRows": rows,
            "updatedColumns": cols,
            "updatedCells": cells,
        }

    def clear(self, a1: str) -> str:
        rng = self.parse(a1)
        sheet = self.sheet(rng.sheet)
        row1 = min(rng.row1 if rng.row1 is not None else len(sheet.rows), len(sheet.rows))
        for row in range(rng.row0, row1):
            line = sheet.rows[row]
            col1 = min(rng.col1 if rng.col1 is not None else len(line), len(line))
            for col in range(rng.col0, col1):
                line[col] = None
        return a1

    def append(self, a1: str, values: list[list[Any]], input_option: str) -> dict[str, Any]:
        """values.append: after the last row of the table found in the range's columns."""
        rng = self.parse(a1)
        sheet = self.sheet(rng.sheet)
        last = rng.row0
        for row in range(rng.row0, len(sheet.rows)):
            line = sheet.rows[row]
            col1 = rng.col1 if rng.col1 is not None else len(line)
            if any(line[c] not in (None, "") for c in range(rng.col0, min(col1, len(line)))):
                last = row + 1
        width = max((len(r) for r in values), default=1)
        start = f"'{rng.sheet}'!{col_letters(rng.col0)}{last + 1}:{col_letters(rng.col0 + width - 1)}"
        if last + len(values) > sheet.row_count:
            sheet.row_count = last + len(values)
        updates = self.write(start, values, input_option)
        return {"spreadsheetId": self.spreadsheet_id, "tableRange": a1, "updates": updates}

    # ------------------------------------------------------------------ structural requests
    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        (kind, body), *_ = request.items()
        handler = getattr(self, "_req_" + kind, None)
        if handler is None:
            raise GridError(f"Unsupported request in the stand-in: {kind}")
        reply = handler(body)
        return {kind: reply} if reply else {}

    def _req_addSheet(self, body: dict[str, Any]) -> dict[str, Any]:
        props = body.get("properties", {})
        title = props.get("title") or f"Лист{len(self.sheets) + 1}"
        if any(s.title == title for s in self.sheets):
            raise GridError(f'A sheet with the name "{title}" already exists. Please enter another name.')
        grid = props.get("gridProperties", {})
        sheet_id = props.get("sheetId", self._next_sheet_id)
        self._next_sheet_id += 1
        sheet = Sheet(
            sheet_id=sheet_id,
            title=title,
            index=props.get("index", len(self.sheets)),
            row_count=grid.get("rowCount", 1000),
            column_count=grid.get("columnCount", 26),
            frozen_rows=grid.get("frozenRowCount", 0),
        )
        self.sheets.append(sheet)
        return {"properties": sheet.properties()}

    def _req_deleteSheet(self, body: dict[str, Any]) -> None:
        self.sheets.remove(self.sheet_by_id(body["sheetId"]))

    def _req_updateSheetProperties(self, body: dict[str, Any]) -> None:
        props = body["properties"]
        sheet = self.sheet_by_id(props.get("sheetId", 0))
        fields = {f.strip() for f in body.get("fields", "").split(",")}
        if "title" in fields:
            sheet.title = props["title"]
        grid = props.get("gridProperties", {})
        if "gridProperties.frozenRowCount" in fields or "gridProperties" in fields:
            sheet.frozen_rows = grid.get("frozenRowCount", 0)
        if "gridProperties.rowCount" in fields:
            sheet.row_count = grid["rowCount"]
        if "gridProperties.columnCount" in fields:
            sheet.column_count = grid["columnCount"]

    def _req_appendDimension(self, body: dict[str, Any]) -> None:
        sheet = self.sheet_by_id(body["sheetId"])
        if body["dimension"] == "ROWS":
            sheet.row_count += body["length"]
        else:
            sheet.column_count += body["length"]

    def _req_repeatCell(self, body: dict[str, Any]) -> None:
        rng = body["range"]
        sheet = self.sheet_by_id(rng.get("sheetId", 0))
        sheet.formats = [f for f in sheet.formats if f["range"] != rng] + [
            {"range": rng, "format": body.get("cell", {}).get("userEnteredFormat", {})}
        ]

    def _req_setDataValidation(self, body: dict[str, Any]) -> None:
        rng = body["range"]
        sheet = self.sheet_by_id(rng.get("sheetId", 0))
        sheet.validations = [v for v in sheet.validations if v["range"] != rng]
        if body.get("rule"):
            sheet.validations.append({"range": rng, "rule": body["rule"]})

    def _req_addProtectedRange(self, body: dict[str, Any]) -> dict[str, Any]:
        protected = dict(body["protectedRange"])
        sheet = self.sheet_by_id(protected["range"].get("sheetId", 0))
        protected["protectedRangeId"] = self._next_protected_id
        self._next_protected_id += 1
        sheet.protected.append(protected)
        return {"protectedRange": protected}

    def _req_deleteProtectedRange(self, body: dict[str, Any]) -> None:
        for sheet in self.sheets:
            sheet.protected = [
                p for p in sheet.protected if p["protectedRangeId"] != body["protectedRangeId"]
            ]

    def _req_insertDimension(self, body: dict[str, Any]) -> None:
        rng = body["range"]
        sheet = self.sheet_by_id(rng["sheetId"])
        if rng["dimension"] != "ROWS":
            raise GridError("the stand-in inserts rows only")
        start, end = rng["startIndex"], rng["endIndex"]
        while len(sheet.rows) < start:
            sheet.rows.append([])
        sheet.rows[start:start] = [[] for _ in range(end - start)]
        sheet.row_count += end - start

    def _req_deleteDimension(self, body: dict[str, Any]) -> None:
        rng = body["range"]
        sheet = self.sheet_by_id(rng["sheetId"])
        if rng["dimension"] != "ROWS":
            raise GridError("the stand-in deletes rows only")
        start, end = rng["startIndex"], rng["endIndex"]
        del sheet.rows[start:end]
        sheet.row_count -= min(end, sheet.row_count) - start

    def _req_updateCells(self, body: dict[str, Any]) -> None:
        start = body.get("start") or {
            "sheetId": body["range"]["sheetId"],
            "rowIndex": body["range"].get("startRowIndex", 0),
            "columnIndex": body["range"].get("startColumnIndex", 0),
        }
        sheet = self.sheet_by_id(start.get("sheetId", 0))
        for r, row in enumerate(body.get("rows", [])):
            for c, cell in enumerate(row.get("values", [])):
                entered = cell.get("userEnteredValue")
                if entered is None:
                    continue
                value = next(iter(entered.values()))
                sheet.set(start.get("rowIndex", 0) + r, start.get("columnIndex", 0) + c, value)

    def _req_mergeCells(self, body: dict[str, Any]) -> None:
        rng = body["range"]
        sheet = self.sheet_by_id(rng["sheetId"])
        for row in range(rng["startRowIndex"], rng["endRowIndex"]):
            for col in range(rng["startColumnIndex"], rng["endColumnIndex"]):
                if (row, col) != (rng["startRowIndex"], rng["startColumnIndex"]):
                    sheet.set(row, col, None)  # Google keeps only the top-left value
        sheet.merges.append(rng)

    def _req_sortRange(self, body: dict[str, Any]) -> None:
        rng = body["range"]
        sheet = self.sheet_by_id(rng["sheetId"])
        start = rng.get("startRowIndex", 0)
        end = min(rng.get("endRowIndex", len(sheet.rows)), len(sheet.rows))
        block = sheet.rows[start:end]
        for spec in reversed(body.get("sortSpecs", [])):
            col = spec.get("dimensionIndex", 0)
            reverse = spec.get("sortOrder") == "DESCENDING"
            block.sort(key=functools.partial(_sort_key, col=col), reverse=reverse)
        sheet.rows[start:end] = block


def _sort_key(line: list[Cell], col: int) -> tuple[bool, str]:
    value = line[col] if col < len(line) else None
    return (value in (None, ""), render(value, "FORMATTED_VALUE").lower())
