"""End to end: `carsbot demo` (what `make demo` runs) as a subprocess, through the real entry point."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from carsbot_dev.local.replay import load_posts

SUMMARY = re.compile(
    r"^summary: posts=(?P<posts>\d+) listings=(?P<listings>\d+) rejected=(?P<rejected>\d+) "
    r"duplicates=(?P<duplicates>\d+) published=(?P<published>\d+) failed=(?P<failed>\d+) seconds=[\d.]+"
    r" payments=(?P<payments>\d+) credited=(?P<credited>\d+)$"
)


def run_demo(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "carsbot.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.mark.parametrize("engine_args", [(), ("--llm-standin",)], ids=["rules", "llm-standin"])
def test_demo_publishes_the_sample_feed(engine_args: tuple[str, ...]) -> None:
    out = run_demo(*engine_args)
    lines = out.strip().splitlines()
    match = SUMMARY.match(lines[-1])
    assert match, lines[-1]
    counts = {k: int(v) for k, v in match.groupdict().items()}
    posts = load_posts()
    assert counts["posts"] == len(posts) >= 40
    assert counts["failed"] == 0
    assert counts["duplicates"] >= 3  # the sample re-posts cars across channels
    assert counts["rejected"] >= 10  # buy requests, parts, rentals, "продано", ...
    assert counts["published"] == counts["listings"] > 20

    feed = "\n".join(lines[:-1])
    # Seller contacts never reach the channel: no phone or @username of any sample post appears.
    digits_in_feed = re.sub(r"\D", "", feed)
    for post in posts:
        for phone in re.findall(r"(?:\+7|8)[\s(-]*9\d\d[\s)-]*\d\d\d[\s-]*\d\d[\s-]*\d\d", post.text):
            assert re.sub(r"\D", "", phone)[1:] not in digits_in_feed, phone
        for username in re.findall(r"@([A-Za-z][A-Za-z0-9_]{4,})", post.text):
            assert f"@{username}" not in feed, username
    assert "?start=l_" in feed  # every post ends with the contacts deep link
    assert "❌ Продано / снято с продажи" in feed  # the deleted sale was withdrawn
    assert "[album of 4 photos]" in feed  # the album (caption on its second item) went out as one group

    # After the replay, the Sheets console (stand-in; `sheets init` + one sync) prints Каналы and Аналитика.
    channels = console_rows(feed, "Таблица «Каналы»")
    assert sorted(r["Ссылка"] for r in channels) == sorted(
        {f"https://t.me/{p.channel_username}" for p in posts if p.channel_username}
    )
    assert sum(int(r["Опубликовано"]) for r in channels) == counts["published"]
    days = console_rows(feed, "Таблица «Аналитика»: по дням")  # the last 7 days (UTC), today last
    assert sum(int(d["Опубликовано"]) for d in days) == counts["published"]
    assert sum(int(d["Постов"]) for d in days) >= counts["listings"]


def console_rows(out: str, title: str) -> list[dict[str, str]]:
    """The rows of one printed console table (columns are two or more spaces apart)."""
    block = out[out.index(title) :].split("\n\n", 1)[0].splitlines()
    header, *rows = (re.split(r"\s{2,}", line.strip()) for line in block[1:] if not line.startswith("--"))
    return [dict(zip(header, row, strict=True)) for row in rows]
