"""Monitor benchmark: memory (RSS) and CPU with 500 channels and a steady 10 posts/s (printed, not asserted).

    python -m carsbot_dev.monitor.bench [--channels 500] [--rate 10] [--seconds 30]

AWS is a moto server holding the template's resources, run in a *child* process so its memory is not
counted; Telegram is the in-process offline stand-in (``carsbot_dev.monitor.offline``). The baseline is this
interpreter after importing everything the monitor imports, before the monitor exists. Target: the
monitor process stays at or below 150 MB RSS (the Fargate task has 512 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

TARGET_RSS_MB = 150.0


def _status_kb(field: str) -> float:
    """A ``VmRSS``/``VmHWM`` value of this process in kB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    return _status_kb("VmHWM") / 1024


def _serve_aws() -> int:
    """Child process: a moto server with the template's resources; prints its coordinates, then waits."""
    import warnings

    warnings.simplefilter("ignore")
    from carsbot_dev.local.stack import local_aws

    with local_aws() as stack:
        info = {
            "endpoint": stack.endpoint_url,
            "environment": stack.function_environment(),
            "session_secret": stack.secrets["TelegramSessionSecret"],
        }
        print(json.dumps(info), flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    return 0


async def _run(channels: int, rate: float, seconds: float, heartbeat: str) -> dict[str, Any]:
    from carsbot.adapters.db.models import ChannelModel
    from carsbot.config import Settings
    from carsbot_dev.monitor.offline import OfflineTelegram, photo_bytes
    from carsbot_monitor import health
    from carsbot_monitor.app import Monitor
    from carsbot_monitor.health import Telemetry
    from carsbot_monitor.session import SessionStore
    from carsbot_monitor.settings import MonitorSettings

    settings = Settings()
    world = OfflineTelegram(seed=1)
    account = world.create_account(900001, username="bench_monitor")
    SessionStore(settings.telegram_session_secret).store(world.create_session(account))
    sources = [
        world.add_channel(f"Channel {i}", username=f"bench_source_{i}", members=[900001])
        for i in range(channels)
    ]
    with ChannelModel.batch_write() as batch:
        for channel in sources:
            batch.save(
                ChannelModel(
                    ref=f"@{channel.username}",
                    status="active",
                    channel_id=channel.id,
                    access_hash=channel.access_hash,
                    username=channel.username,
                    title=channel.title,
                    last_message_id=0,
                )
            )

    config = MonitorSettings(heartbeat_file=heartbeat, join_interval_seconds=0, registry_reload_seconds=30)
    telemetry = Telemetry()
    monitor = Monitor(
        settings=settings, config=config, client_factory=world.client_factory, telemetry=telemetry
    )
    cpu_start = time.process_time()
    wall_start = time.monotonic()
    task = asyncio.create_task(monitor.run())
    while len(monitor.channels) < channels:
        await asyncio.sleep(0.1)
        if task.done():
            task.result()
    ready_seconds = time.monotonic() - wall_start

    rng = random.Random(7)
    posts = 0
    stream_start = time.monotonic()
    cpu_stream_start = time.process_time()
    samples: list[float] = []
    while time.monotonic() - stream_start < seconds:
        channel = rng.choice(sources)
        roll = rng.random()
        if roll < 0.05:
            await world.publish_album(
                channel, [("Альбом", photo_bytes(posts * 10 + i, 50_000)) for i in range(3)]
            )
        elif roll < 0.25:
            await world.publish(channel, f"Продаю авто №{posts}", photo=photo_bytes(posts, 50_000))
        else:
            await world.publish(channel, f"Продаю авто №{posts}, 1 200 000 ₽, пробег 80 000 км")
        posts += 1
        samples.append(rss_mb())
        target = stream_start + posts / rate
        await asyncio.sleep(max(0.0, target - time.monotonic()))
    deadline = time.monotonic() + 60
    while telemetry.counts[health.POSTS_QUEUED] + telemetry.counts[health.BACKFILL_RECOVERED] < posts:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    drained_after = time.monotonic() - stream_start - seconds
    cpu_stream = time.process_time() - cpu_stream_start
    monitor.request_stop()
    await asyncio.wait_for(task, timeout=30)
    return {
        "channels": channels,
        "posts_published": posts,
        "posts_queued": int(
            telemetry.counts[health.POSTS_QUEUED] + telemetry.counts[health.BACKFILL_RECOVERED]
        ),
        "ready_seconds": round(ready_seconds, 2),
        "drained_after_stream_seconds": round(max(0.0, drained_after), 2),
        "cpu_seconds_total": round(time.process_time() - cpu_start, 2),
        "cpu_seconds_stream": round(cpu_stream, 2),
        "cpu_share_of_one_core": round(cpu_stream / seconds, 3),
        "rss_mb_during_stream_max": round(max(samples, default=0.0), 1),
        "rss_mb_end": round(rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--rate", type=float, default=10.0, help="posts per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--serve-aws", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-arena-cap", action="store_true", help="do not set MALLOC_ARENA_MAX=2 (the container sets it)"
    )
    args = parser.parse_args(argv)
    if args.serve_aws:
        return _serve_aws()
    if not args.no_arena_cap and os.environ.get("MALLOC_ARENA_MAX") is None and sys.platform == "linux":
        # glibc reads it at start-up: re-run this benchmark the way monitor/Dockerfile runs the monitor.
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        command = [sys.executable, "-m", "carsbot_dev.monitor.bench", *(argv or sys.argv[1:])]
        return subprocess.call(command, env=env)  # noqa: S603 - our own interpreter and module

    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    child = subprocess.Popen(
        [sys.executable, "-m", "carsbot_dev.monitor.bench", "--serve-aws"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise SystemExit("bench: the local AWS stand-in did not start")
        info = json.loads(line)
        from carsbot_dev.local.stack import point_sdks_at

        os.environ.update(point_sdks_at(info["endpoint"]))
        os.environ.update(info["environment"])
        os.environ["CARSBOT_TELEGRAM_SESSION_SECRET"] = info["session_secret"]

        # Baseline: the idle interpreter with everything the monitor imports.
        import boto3  # noqa: F401
        import telethon  # noqa: F401

        import carsbot_dev.monitor.offline  # noqa: F401
        from carsbot.adapters.db import bind_tables
        from carsbot.config import reset_settings

        reset_settings()
        bind_tables()
        baseline_rss = rss_mb()
        baseline_cpu = time.process_time()

        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            # (EMF metric lines go to stdout in ECS; here they are captured, not printed.)
            result = asyncio.run(_run(args.channels, args.rate, args.seconds, os.path.join(tmp, "heartbeat")))
    finally:
        if child.stdin:
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()

    result["baseline_rss_mb"] = round(baseline_rss, 1)
    result["baseline_cpu_seconds"] = round(baseline_cpu, 2)
    result["monitor_rss_over_baseline_mb"] = round(result["peak_rss_mb"] - baseline_rss, 1)
    result["malloc_arena_max"] = os.environ.get("MALLOC_ARENA_MAX", "unset")
    result["target_rss_mb"] = TARGET_RSS_MB
    result["within_target"] = result["peak_rss_mb"] <= TARGET_RSS_MB
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"monitor benchmark: {args.channels} channels, {args.rate:g} posts/s for {args.seconds:g} s "
        "(offline Telegram, AWS in a child process)"
    )
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"  {key:<{width}}  {value}")
    verdict = "within" if result["within_target"] else "OVER"
    print(f"  peak RSS {result['peak_rss_mb']} MB is {verdict} the {TARGET_RSS_MB:g} MB target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
