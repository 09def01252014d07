"""Local mode with the real monitor (``carsbot demo --live``): monitor -> local stack -> channel feed.

Runs in a subprocess because the local stack starts its own moto server (moto's state is per process).
Telegram is the offline stand-in at the request level; everything else is the real code path of
``carsbot_dev.monitor.live.run_live``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, os
    os.environ.setdefault("CARSBOT_MONITOR_HEARTBEAT_FILE", os.path.join(os.environ["TMP_DIR"], "hb.json"))
    from carsbot_dev.monitor.live import LiveOptions, run_live
    from carsbot_dev.monitor.offline import OfflineTelegram
    from carsbot_monitor.settings import MonitorSettings

    world = OfflineTelegram(seed=7)
    account = world.create_account(424242, username="carsbot_monitor")
    credentials = world.create_session(account)
    channel = world.add_channel("Авто с пробегом | Казань", username="avto_kzn_live")

    async def history():
        await world.publish(channel, "Продаю Тойота Камри 2018, 2.5 АКПП, пробег 98 000 км, Казань. "
                                     "Цена 2 150 000 ₽. Тел +7 912 345-67-89", deliver=False)
        await world.publish(channel, "Куплю Ладу Весту до 900 000 ₽", deliver=False)
        await world.publish(channel, "Киа Рио 2019, 1.6 автомат, пробег 64 т.км, цена 1 190 000 р, "
                                     "г. Казань, 8 917 000-11-22", deliver=False)

    asyncio.run(history())
    from carsbot.adapters.db import ListingModel

    def done(stack):
        return sum(1 for item in ListingModel.scan() if item.published_message_ids) >= 2

    config = MonitorSettings(lease_seconds=5, lease_renew_seconds=0.5, lease_margin_seconds=1,
                             lease_poll_seconds=0.2, registry_reload_seconds=0.3, join_interval_seconds=0,
                             secret_poll_seconds=0.5, heartbeat_seconds=0.2, album_settle_seconds=0.2,
                             initial_backfill_messages=10)
    lines = []
    summary = run_live(
        LiveOptions(session_json=credentials.to_secret(), channels=["https://t.me/avto_kzn_live"],
                    minutes=1.5, poll_seconds=0.3),
        client_factory=world.client_factory, monitor_config=config, stop_when=done, out=lines.append,
    )
    print("\\n".join(lines))
    print(summary.line())
    """
)


def test_live_mode_runs_real_monitor_pipeline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "TMP_DIR": str(tmp_path), "POWERTOOLS_LOG_LEVEL": "ERROR"},
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "channel @avto_kzn_live: registered" in out
    assert "Toyota Camry" in out and "Kia Rio" in out  # published to the (stand-in) channel
    assert "912" not in out and "917" not in out  # no seller phone in the feed
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("summary: posts=3 listings=2 rejected=1 duplicates=0 published=2 failed=0"), (
        summary
    )
