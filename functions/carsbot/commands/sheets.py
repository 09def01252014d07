"""``carsbot sheets init`` (create or repair the console template) and ``carsbot sheets sync`` (one sync).

Both use the configured spreadsheet (``CARSBOT_SHEETS_SPREADSHEET_ID`` or ``--spreadsheet``) and the
service account key in Secrets Manager (``CARSBOT_SHEETS_CREDENTIALS_SECRET``). Output is one JSON
object on stdout; exit code 0, 1 when the sync reported problems, 2 when Sheets could not be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sheets", help="the Google Sheets admin console")
    commands = parser.add_subparsers(dest="sheets_command", required=True, metavar="ACTION")
    init = commands.add_parser("init", help="create or repair the tabs, headers, formatting and validation")
    init.add_argument("--spreadsheet", help="spreadsheet id (default: CARSBOT_SHEETS_SPREADSHEET_ID)")
    init.set_defaults(func=run_init)
    sync = commands.add_parser("sync", help="run one sync between the spreadsheet and DynamoDB now")
    sync.add_argument("--spreadsheet", help="spreadsheet id (default: CARSBOT_SHEETS_SPREADSHEET_ID)")
    sync.set_defaults(func=run_sync)


def _settings(args: argparse.Namespace) -> Any:
    from carsbot.config import get_settings

    settings = get_settings()
    if args.spreadsheet:
        settings = settings.model_copy(update={"sheets_spreadsheet_id": args.spreadsheet})
    return settings


def run_init(args: argparse.Namespace) -> int:
    from carsbot.adapters.db import bind_tables
    from carsbot.adapters.sheets import SheetsError, open_gateway
    from carsbot.sheets.filters import stored_values
    from carsbot.sheets.template import TemplateBuilder

    settings = _settings(args)
    bind_tables(settings)
    try:  # the filters in force fill the Фильтры rows init adds (a re-created tab resets nothing)
        report = TemplateBuilder(open_gateway(settings), settings.plans, stored_values()).run()
    except SheetsError as exc:
        print(f"carsbot sheets init: {exc}", file=sys.stderr)
        return 2
    out = {
        "changed": report.changed,
        "created_tabs": report.created_tabs,
        "headers_added": report.headers_added,
        "rows_added": report.rows_added,
        "formatted_tabs": report.formatted_tabs,
        "requests": report.requests,
    }
    print(json.dumps(out, ensure_ascii=False))
    return 0


def run_sync(args: argparse.Namespace) -> int:
    from carsbot.adapters.db import bind_tables
    from carsbot.adapters.sheets import SheetsError, open_gateway
    from carsbot.sheets.sync import SheetsSync

    settings = _settings(args)
    bind_tables(settings)
    try:
        result = SheetsSync(settings, open_gateway(settings)).run()
    except SheetsError as exc:
        print(f"carsbot sheets sync: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), ensure_ascii=False))
    return 1 if result.problems else 0
