"""The Google Sheets console in ``carsbot demo``: the Каналы and Аналитика tabs after the replay.

``register_sample_channels`` puts the sample's source channels into the registry before the replay, as an
admin adds them and the monitor resolves them (numeric id, title), so the publish function counts their
posts as it would in production. ``console_tables`` then starts the Sheets stand-in, stores a throw-away
service-account key in the stack's ``SheetsServiceAccountSecret``, runs ``carsbot sheets init`` and one
``carsbot sheets sync`` through the real command (gspread over HTTP, google-auth tokens from the
stand-in), and renders the two tabs as plain-text tables. The seller-contact columns are never printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carsbot.core.contracts import QueuedPost
    from carsbot_dev.local.stack import LocalStack

SPREADSHEET = "demo-console"
MAX_CELL = 32  # characters shown of one cell


def register_sample_channels(posts: Iterable[QueuedPost]) -> list[str]:
    """Every source channel of ``posts`` registered and resolved; the refs, in order of appearance."""
    from carsbot.channels import ChannelRegistry

    registry = ChannelRegistry()
    firsts: dict[int, QueuedPost] = {}
    for post in posts:
        if post.channel_username:
            firsts.setdefault(post.channel_id, post)
    refs = []
    for post in firsts.values():
        record, _ = registry.add(f"https://t.me/{post.channel_username}")
        registry.save_resolution(
            record.ref,
            channel_id=post.channel_id,
            access_hash=0,  # the replay stands in for the monitor, which would store the real hash
            title=post.channel_title,
            username=post.channel_username,
        )
        refs.append(record.ref)
    return refs


def width(text: str) -> int:
    """Terminal columns of ``text``: wide (CJK, emoji) characters take two, combining ones none."""
    total = 0
    for char in text:
        if unicodedata.combining(char) or char in "\u200d\ufe0f":
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def _cell(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= MAX_CELL else value[: MAX_CELL - 1] + "…"


def render_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An aligned plain-text table under its title (columns two spaces apart, a rule under the header)."""
    cells = [[_cell(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(width(line[i]) for line in cells) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    body = [line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]]
    if not rows:
        body.append("(пусто)")
    return "\n".join([title, *body])


def tab_table(title: str, values: list[list[str]], columns: Sequence[int], hidden: Iterable[str] = ()) -> str:
    """A tab's data rows in ``columns`` (0-based); empty columns and ``hidden`` headers left out."""
    header = values[0] if values else []
    padded = [line + [""] * (len(header) - len(line)) for line in values[1:]]
    data = [line for line in padded if any(line[c] for c in columns if c < len(line))]
    skip = set(hidden)
    shown = [
        c for c in columns if c < len(header) and header[c] not in skip and any(line[c] for line in data)
    ]
    return render_table(title, [header[c] for c in shown], [[line[c] for c in shown] for line in data])


def render_console(channels: list[list[str]], analytics: list[list[str]]) -> str:
    """The Каналы tab and the Аналитика tab (daily rows, then the week's top models) as text."""
    from carsbot.sheets import layout

    contacts = {layout.CHANNELS.column(k).header for k in ("seller_phone", "seller_username")}
    header = analytics[0] if analytics else []
    found = layout.locate(layout.ANALYTICS, header)
    daily = sorted(found[c.key] for c in layout.ANALYTICS.columns if c.key in found)
    top = sorted(found[c.key] for c in layout.ANALYTICS.extra if c.key in found)
    parts = [
        tab_table(
            f"Таблица «{layout.CHANNELS.title}»",
            channels,
            range(len(channels[0]) if channels else 0),
            contacts,
        ),
        tab_table(f"Таблица «{layout.ANALYTICS.title}»: по дням", analytics, daily),
        tab_table(f"Таблица «{layout.ANALYTICS.title}»: топ моделей за 7 дней", analytics, top),
    ]
    return "\n\n".join(parts)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the process environment (and fresh settings/secrets) for the block, restored after."""
    from carsbot.adapters.secrets import reset_secrets_cache
    from carsbot.config import get_settings

    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    get_settings.cache_clear()
    reset_secrets_cache()
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        reset_secrets_cache()


def _carsbot(*argv: str, allowed: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """Run a ``carsbot`` command in this process; its one-line JSON answer (another exit code raises)."""
    from carsbot.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    if code not in allowed:
        raise RuntimeError(
            f"carsbot {' '.join(argv)} exited {code}: {err.getvalue().strip() or out.getvalue()}"
        )
    return dict(json.loads(out.getvalue().strip().splitlines()[-1]))


def console_tables(stack: LocalStack) -> str:
    """Sheets stand-in + ``carsbot sheets init`` + one ``carsbot sheets sync``; the two tabs as text."""
    from carsbot.adapters.aws import client
    from carsbot_dev.local.sheets_standin import SheetsStandin, fake_service_account

    with SheetsStandin() as sheets:
        sheets.create(SPREADSHEET, title="carsbot — консоль (демо)")
        client("secretsmanager").put_secret_value(
            SecretId=stack.secrets["SheetsServiceAccountSecret"],
            SecretString=fake_service_account(sheets.root_url + "/token"),
        )
        env = {"CARSBOT_SHEETS_SPREADSHEET_ID": SPREADSHEET, "CARSBOT_SHEETS_API_BASE": sheets.root_url}
        with _environment(env):
            init = _carsbot("sheets", "init")
            sync = _carsbot("sheets", "sync", allowed=(0, 1))  # 1: the sync reported problems
        channels = sheets.values(SPREADSHEET, "Каналы")
        analytics = sheets.values(SPREADSHEET, "Аналитика")
    head = (
        f"Google Sheets console (local stand-in): sheets init created {len(init['created_tabs'])} tabs "
        f"in {init['requests']} requests; one sync: {sync['requests']} requests, "
        f"{sync['cells_written']} cells written, "
        f"{len(sync['changes'].get('appended', []))} channel rows added"
    )
    problems = "".join(f"\n  проблема: {p}" for p in sync["problems"])
    return head + problems + "\n\n" + render_console(channels, analytics)
