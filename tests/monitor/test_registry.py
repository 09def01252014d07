"""The channel registry: CLI commands, changes picked up without a restart, joins, resolves once."""

from __future__ import annotations

import asyncio
import json

import pytest
from monitor_harness import MONITOR_USER, Downstream, MonitorEnv, stop_monitor, wait_for

from carsbot.channels import (
    FAST_FORWARD,
    ChannelNotFound,
    ChannelRegistry,
    ChannelStatus,
    InvalidChannelRef,
    RefKind,
    parse_channel_ref,
)
from carsbot.cli import main
from carsbot_monitor import health


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("@Cars_KZN", RefKind.PUBLIC, "cars_kzn"),
        ("cars_kzn", RefKind.PUBLIC, "cars_kzn"),
        ("t.me/cars_kzn", RefKind.PUBLIC, "cars_kzn"),
        ("https://t.me/cars_kzn", RefKind.PUBLIC, "cars_kzn"),
        ("https://t.me/cars_kzn/8421", RefKind.PUBLIC, "cars_kzn"),
        ("https://t.me/s/cars_kzn", RefKind.PUBLIC, "cars_kzn"),
        ("telegram.me/cars_kzn", RefKind.PUBLIC, "cars_kzn"),
        ("tg://resolve?domain=cars_kzn", RefKind.PUBLIC, "cars_kzn"),
        ("t.me/+AbCdEf123_-xyz", RefKind.INVITE, "AbCdEf123_-xyz"),
        ("https://t.me/joinchat/AbCdEf123_-xyz", RefKind.INVITE, "AbCdEf123_-xyz"),
        ("+AbCdEf123_-xyz", RefKind.INVITE, "AbCdEf123_-xyz"),
        ("tg://join?invite=AbCdEf123_-xyz", RefKind.INVITE, "AbCdEf123_-xyz"),
    ],
)
def test_channel_references_are_normalised(text: str, kind: RefKind, value: str) -> None:
    ref = parse_channel_ref(text)
    assert (ref.kind, ref.value) == (kind, value)
    assert ref.ref == (f"@{value}" if kind is RefKind.PUBLIC else f"+{value}")


@pytest.mark.parametrize(
    "text",
    ["", "@a", "https://example.com/cars", "t.me/c/12345/67", "t.me/joinchat", "@bad__name", "t.me/+a"],
)
def test_bad_references_are_rejected_clearly(text: str) -> None:
    with pytest.raises(InvalidChannelRef):
        parse_channel_ref(text)


def test_channels_cli(monitor_env: MonitorEnv, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["channels", "add", "https://t.me/Cars_KZN", "--seller-phone", "+79990001122"]) == 0
    assert main(["channels", "add", "t.me/+AbCdEf123_-xyz"]) == 0
    assert main(["channels", "add", "@cars_kzn"]) == 0  # already there: still one entry
    assert main(["channels", "add", "https://example.com/x"]) == 2
    assert main(["channels", "pause", "@cars_kzn"]) == 0
    assert main(["channels", "remove", "joinchat/AbCdEf123_-xyz"]) == 2  # not a t.me link
    assert main(["channels", "remove", "https://t.me/joinchat/AbCdEf123_-xyz"]) == 0
    assert main(["channels", "resume", "@nobody_here"]) == 1
    capsys.readouterr()
    assert main(["channels", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["ref"], r["status"]) for r in rows] == [
        ("+AbCdEf123_-xyz", "removed"),
        ("@cars_kzn", "paused"),
    ]
    assert main(["channels", "list", "--status", "paused"]) == 0
    out = capsys.readouterr().out
    assert "@cars_kzn" in out and "+AbCdEf123" not in out

    # Numeric ids (both forms) work once the monitor has stored the channel id.
    ChannelRegistry().save_resolution(
        "@cars_kzn", channel_id=1712345678, access_hash=42, title="T", username="cars_kzn"
    )
    assert main(["channels", "resume", "-1001712345678"]) == 0
    assert main(["channels", "pause", "1712345678"]) == 0
    found = ChannelRegistry().find("@cars_kzn")
    assert found is not None and found.status == "paused"


def test_registry_public_api(monitor_env: MonitorEnv) -> None:
    """``carsbot.channels``: what the bot and the sheets console call (add/list/pause/resume/remove)."""
    registry = ChannelRegistry()
    record, created = registry.add("https://t.me/Cars_Ekb", seller_phone="+79990002233")
    assert created and record.ref == "@cars_ekb" and record.status == ChannelStatus.ACTIVE
    assert registry.add("@cars_ekb") == (registry.find("@cars_ekb"), False)
    with pytest.raises(InvalidChannelRef):
        registry.add("https://example.com/cars")
    with pytest.raises(ChannelNotFound):
        registry.pause("@nobody_here")

    registry.save_resolution(
        "@cars_ekb", channel_id=1712340000, access_hash=7, title="Авто Екб", username="cars_ekb"
    )
    assert registry.advance_checkpoint("@cars_ekb", 40)
    assert not registry.advance_checkpoint("@cars_ekb", 39)  # never lowered
    assert registry.pause("-1001712340000").status == ChannelStatus.PAUSED  # by Bot API id
    assert [r.ref for r in registry.list_channels("paused")] == ["@cars_ekb"]
    assert registry.resume("@cars_ekb").last_message_id == 40  # catches up on what the pause held back
    registry.pause("@cars_ekb")
    assert registry.resume("1712340000", skip_missed=True).last_message_id == FAST_FORWARD
    assert registry.remove("t.me/cars_ekb").status == ChannelStatus.REMOVED
    assert registry.list_channels("active") == []
    again, created = registry.add("@cars_ekb")  # re-added after removal: from the newest post
    assert not created and again.status == ChannelStatus.ACTIVE and again.last_message_id == FAST_FORWARD
    found = registry.find("1712340000")
    assert (
        found is not None
        and found.title == "Авто Екб"
        and registry.checkpoint_of("@cars_ekb") == FAST_FORWARD
    )


def test_registry_changes_apply_without_restart(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Казань", username="cars_kzn")
    monitor_env.store_session(monitor_env.new_session())
    downstream = Downstream(monitor_env)

    def ids() -> set[int]:
        return {p.message_id for p in downstream.poll() if p.channel_id == channel.id}

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: monitor.state == "running")

        assert main(["channels", "add", "t.me/cars_kzn"]) == 0
        await wait_for(lambda: channel.id in monitor.channels, timeout=5)
        first = await world.publish(channel, "первый пост")
        await wait_for(lambda: first.id in ids())

        assert main(["channels", "pause", "@cars_kzn"]) == 0
        await wait_for(lambda: channel.id not in monitor.channels, timeout=5)
        held = await world.publish(channel, "пост во время паузы")
        await asyncio.sleep(0.5)
        assert held.id not in ids()

        assert main(["channels", "resume", "@cars_kzn"]) == 0  # catches up on what the pause held back
        await wait_for(lambda: held.id in ids(), timeout=5)

        assert main(["channels", "remove", "@cars_kzn"]) == 0
        await wait_for(lambda: channel.id not in monitor.channels, timeout=5)
        dropped = await world.publish(channel, "пост после удаления")
        await asyncio.sleep(0.5)

        assert main(["channels", "add", "@cars_kzn"]) == 0  # re-added: starts from the newest post
        await wait_for(lambda: channel.id in monitor.channels, timeout=5)
        fresh = await world.publish(channel, "новый пост")
        await wait_for(lambda: fresh.id in ids())
        assert dropped.id not in ids()
        await stop_monitor(monitor, task)

    asyncio.run(scenario())
    # One resolve for the username, ever: later joins and restarts use the stored id + access hash.
    assert world.requests["ResolveUsernameRequest"] == 1


def test_known_username_never_resolved_again(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    public = world.add_channel("Авто Омск", username="cars_omsk")
    invite = world.add_channel("Закрытый канал", invite="PrivInvite0001")
    member = world.add_channel("Уже подписан", invite="PrivInvite0002", members=[MONITOR_USER])
    member.stale_invite_check = True  # the import answers USER_ALREADY_PARTICIPANT: still success
    world.add_channel("Просрочено", invite="PrivInvite0003").invite_expired = True
    world.script_flood("JoinChannelRequest", 1)  # FLOOD_WAIT_1 on the first join: slept and retried
    monitor_env.store_session(monitor_env.new_session())
    registry = ChannelRegistry()
    for ref in (
        "@cars_omsk",
        "https://t.me/+PrivInvite0001",
        "t.me/joinchat/PrivInvite0002",
        "+PrivInvite0003",
        "@no_such_channel",
    ):
        registry.add(ref)

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: {public.id, invite.id, member.id} <= set(monitor.channels), timeout=10)
        await wait_for(lambda: monitor.telemetry.counts[health.JOIN_FAILED] == 2, timeout=5)
        assert monitor.telemetry.counts[health.FLOOD_WAITS] == 1
        await stop_monitor(monitor, task)

        # A restarted monitor uses the stored ids: no resolve, no join request at all.
        requests_before = dict(world.requests)
        again = monitor_env.monitor()
        task = asyncio.create_task(again.run())
        await wait_for(lambda: {public.id, invite.id, member.id} <= set(again.channels), timeout=10)
        post = await world.publish(public, "пост после перезапуска")
        await Downstream(monitor_env).until(lambda posts: post.id in {p.message_id for p in posts})
        await stop_monitor(again, task)
        for name in ("ResolveUsernameRequest", "JoinChannelRequest", "ImportChatInviteRequest"):
            assert world.requests[name] == requests_before.get(name, 0), name

    asyncio.run(scenario())
    assert MONITOR_USER in public.members and MONITOR_USER in invite.members
    assert world.requests["ResolveUsernameRequest"] == 2  # @cars_omsk once + the missing username once
    assert world.requests["JoinChannelRequest"] == 2  # the flood-waited attempt + its retry
    records = {r.ref: r for r in ChannelRegistry().list_channels()}
    assert (
        records["@cars_omsk"].channel_id == public.id
        and records["@cars_omsk"].access_hash == public.access_hash
    )
    assert (
        records["+PrivInvite0001"].channel_id == invite.id
        and records["+PrivInvite0001"].title == "Закрытый канал"
    )
    assert records["+PrivInvite0002"].channel_id == member.id
    assert "expired" in (records["+PrivInvite0003"].join_error or "")
    assert "does not exist" in (records["@no_such_channel"].join_error or "")


def test_lost_channel_is_rejoined_and_caught_up(monitor_env: MonitorEnv) -> None:
    """Removed from a private channel: the monitor re-joins it through its invite and reads what it missed."""
    world = monitor_env.world
    channel = world.add_channel("Закрытый канал", invite="PrivInvite0009", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    ChannelRegistry().add("https://t.me/+PrivInvite0009")
    downstream = Downstream(monitor_env)

    async def scenario() -> None:
        config = monitor_env.config(rejoin_delay_seconds=0.5, catchup_interval_seconds=0.5)
        monitor = monitor_env.monitor(config)
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: channel.id in monitor.channels)
        first = await world.publish(channel, "пост до исключения")
        await downstream.until(lambda posts: first.id in {p.message_id for p in posts})
        imports = world.requests["ImportChatInviteRequest"]

        channel.members.discard(MONITOR_USER)  # the account was removed from the channel
        missed = await world.publish(channel, "пост, пока аккаунта нет в канале")  # nobody receives it
        await wait_for(lambda: MONITOR_USER in channel.members, timeout=10)  # joined again via the invite
        assert world.requests["ImportChatInviteRequest"] == imports + 1
        await downstream.until(lambda posts: missed.id in {p.message_id for p in posts})
        await stop_monitor(monitor, task)

    asyncio.run(scenario())
