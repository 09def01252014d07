"""Live events through the real monitor: new posts, albums, edits, deletions, ignored updates, media."""

from __future__ import annotations

import asyncio

from monitor_harness import MONITOR_USER, Downstream, MonitorEnv, stop_monitor, wait_for

from carsbot.adapters.aws import client
from carsbot.channels import ChannelRegistry
from carsbot.core.contracts import MediaType, PostKind
from carsbot_dev.monitor.offline import photo_bytes
from carsbot_monitor import health


def test_live_events_become_queued_posts(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    watched = world.add_channel("Авто Казань", username="cars_kzn")
    other = world.add_channel("Чужой канал", username="not_registered", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    ChannelRegistry().add("https://t.me/cars_kzn")
    downstream = Downstream(monitor_env)

    async def scenario() -> None:
        for i in range(3):  # history before the channel was added: not queued (start from the newest)
            await world.publish(watched, f"old post {i}")
        monitor = monitor_env.monitor(monitor_env.config(media_max_bytes=10_000))
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: watched.id in monitor.channels, timeout=10)
        assert MONITOR_USER in watched.members  # joined

        text = await world.publish(watched, "Toyota Camry 2018, 2.5 AT, 2 350 000 ₽", photo=photo_bytes(1))
        album = await world.publish_album(
            watched,
            [("", photo_bytes(2)), ("Kia Rio 2019, 1 150 000 ₽, торг", photo_bytes(3)), ("", photo_bytes(4))],
        )
        await world.publish(other, "a post from a channel nobody registered")
        service = await world.service_message(watched)
        big_video = await world.publish(watched, "Видео-обзор Lada Vesta", video=b"\x00" * 20_000)
        small_video = await world.publish(watched, "Короткое видео", video=b"\x01" * 4_000)
        await downstream.until(lambda posts: len(posts) >= 4)

        await world.edit(watched, text.id, "Toyota Camry 2018, 2.5 AT — цена снижена: 2 250 000 ₽")
        await world.delete(watched, [small_video.id])
        await downstream.until(lambda posts: len(posts) >= 6)
        await asyncio.sleep(0.5)  # nothing else may arrive
        downstream.poll()
        await stop_monitor(monitor, task)

        assert world.violations == []
        by_kind: dict[PostKind, list] = {}
        for post in downstream.posts:
            by_kind.setdefault(post.kind, []).append(post)
        new = {p.message_id: p for p in by_kind[PostKind.NEW]}
        assert sorted(new) == [text.id, album[0].id, big_video.id, small_video.id]
        assert all(p.channel_id == watched.id for p in downstream.posts)
        assert other.id not in {p.channel_id for p in downstream.posts}
        assert service.id not in {mid for p in downstream.posts for mid in p.message_ids}

        single = new[text.id]
        assert single.text.startswith("Toyota Camry") and single.channel_username == "cars_kzn"
        assert single.link == f"https://t.me/cars_kzn/{text.id}"
        assert [m.key for m in single.media] == [f"media/{watched.id}/{text.id}.jpg"]

        # The album is one post: caption from the second item, every id, 64-bit group id, all photos.
        post = new[album[0].id]
        assert post.text == "Kia Rio 2019, 1 150 000 ₽, торг"
        assert post.message_ids == [m.id for m in album]
        assert post.grouped_id == album[0].grouped_id and post.grouped_id > 2**62
        assert [m.message_id for m in post.media] == [m.id for m in album]
        assert all(m.type is MediaType.PHOTO and m.mime_type == "image/jpeg" for m in post.media)
        s3 = client("s3")
        for ref, original in zip(post.media, (2, 3, 4), strict=True):
            body = s3.get_object(Bucket=monitor_env.bucket, Key=ref.key)["Body"].read()
            assert body == photo_bytes(original)
            assert ref.size == len(body)

        # Media over the size cap is left out; a small video is stored.
        assert new[big_video.id].media == []
        assert [m.type for m in new[small_video.id].media] == [MediaType.VIDEO]
        assert new[small_video.id].media[0].key == f"media/{watched.id}/{small_video.id}.mp4"
        assert monitor.telemetry.counts[health.MEDIA_SKIPPED] >= 1

        (edit,) = by_kind[PostKind.EDIT]
        assert edit.message_id == text.id and "2 250 000" in edit.text and edit.edit_date is not None
        (deletion,) = by_kind[PostKind.DELETE]
        assert deletion.message_id == small_video.id and deletion.text == ""

        # The checkpoint covers everything handled, the service message included.
        assert ChannelRegistry().checkpoint_of("@cars_kzn") == small_video.id

    asyncio.run(scenario())


def test_album_edit_and_full_album_deletion(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Москва", username="cars_msk", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    ChannelRegistry().add("@cars_msk")
    downstream = Downstream(monitor_env)

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: channel.id in monitor.channels)
        album = await world.publish_album(
            channel, [("", photo_bytes(5)), ("", photo_bytes(6)), ("BMW X5", photo_bytes(7))]
        )
        await downstream.until(lambda posts: len(posts) == 1)
        await world.edit(channel, album[2].id, "BMW X5 2020, 5 900 000 ₽")
        await downstream.until(lambda posts: len(posts) == 2)
        await world.delete(channel, [album[1].id])  # one photo removed: the listing stays
        await world.delete(channel, [album[0].id, album[2].id])
        await downstream.until(lambda posts: len(posts) == 3)
        await stop_monitor(monitor, task)

        new, edit, deletion = downstream.posts
        assert new.kind is PostKind.NEW and new.text == "BMW X5"
        # An edit of any album item is an edit of the album post (identity: the lowest id).
        assert edit.kind is PostKind.EDIT and edit.message_id == album[0].id
        assert edit.text == "BMW X5 2020, 5 900 000 ₽"
        assert deletion.kind is PostKind.DELETE and deletion.message_id == album[0].id
        assert deletion.message_ids == [m.id for m in album]

    asyncio.run(scenario())


def test_album_pushed_pieces_one_post(monitor_env: MonitorEnv) -> None:
    """Only the first items' updates arrive live (the last comes late or never): still one post."""
    world = monitor_env.world
    channel = world.add_channel("Авто Сочи", username="cars_sochi", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    ChannelRegistry().add("@cars_sochi")
    downstream = Downstream(monitor_env)

    def checkpoint() -> int:
        return ChannelRegistry().checkpoint_of("@cars_sochi") or 0

    async def scenario() -> None:
        monitor = monitor_env.monitor(monitor_env.config(catchup_interval_seconds=300.0))
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: channel.id in monitor.channels)
        first = await world.publish(channel, "первый пост")
        await wait_for(lambda: checkpoint() == first.id)  # start-up work done; no catch-up for 5 min
        album = await world.publish_album(
            channel,
            [
                ("", photo_bytes(11)),
                ("", photo_bytes(12)),
                ("Hyundai Solaris 2020, 1 250 000 ₽", photo_bytes(13)),
            ],
            push_first=2,  # Telethon delivers a 2-item album event; the captioned item is not pushed
        )
        await wait_for(lambda: checkpoint() >= album[1].id, timeout=10)
        after = await world.publish(channel, "следующий пост")
        await wait_for(lambda: checkpoint() == after.id, timeout=10)
        await stop_monitor(monitor, task)

        new = [p for p in downstream.poll() if p.kind is PostKind.NEW]
        assert sorted(p.message_id for p in new) == [first.id, album[0].id, after.id]
        (post,) = [p for p in new if p.message_id == album[0].id]
        assert post.message_ids == [m.id for m in album]
        assert post.text == "Hyundai Solaris 2020, 1 250 000 ₽"
        assert [m.message_id for m in post.media] == [m.id for m in album]

    asyncio.run(scenario())
