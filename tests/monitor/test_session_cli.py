"""``carsbot session login|check`` against the offline Telegram and the moto secret."""

from __future__ import annotations

import argparse
import asyncio

from monitor_harness import MonitorEnv

from carsbot_monitor.cli import cmd_session_check, cmd_session_login
from carsbot_monitor.lease import Lease
from carsbot_monitor.session import verify_authorized


def test_login_2fa_stores_new_secret_version(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    phone = "+79991234567"
    world.create_account(777001, username="fresh_monitor", phone=phone, password="correct horse")
    before = monitor_env.store.current_version()
    out: list[str] = []
    codes = iter(["00000", "CODE"])
    passwords = iter(["wrong password", "correct horse"])

    def prompt(question: str) -> str:
        code = next(codes)
        return world.code_for(phone) if code == "CODE" else code

    args = argparse.Namespace(api_id=12345, api_hash="0123456789abcdef0123456789abcdef", phone=phone)
    rc = cmd_session_login(
        args,
        client_factory=world.client_factory,
        prompt=prompt,
        secret_prompt=lambda _: next(passwords),
        out=out.append,
    )
    assert rc == 0, out
    stored = monitor_env.store.load()
    assert stored.version_id != before
    assert stored.api_id == 12345
    assert "account 777001 @fresh_monitor" in out[-1]
    assert any("code is not right" in line for line in out)
    assert any("password is not right" in line for line in out)
    assert all(stored.session not in line for line in out)  # never printed

    async def whoami() -> int:  # the stored session is a working authorization of that account
        client = world.client_factory(stored)
        await client.connect()
        try:
            return int((await verify_authorized(client)).id)
        finally:
            await client.disconnect()

    assert asyncio.run(whoami()) == 777001


def test_check_reports_account_hides_session(monitor_env: MonitorEnv) -> None:
    credentials = monitor_env.new_session()
    version = monitor_env.store_session(credentials)
    out: list[str] = []
    assert (
        cmd_session_check(
            argparse.Namespace(), client_factory=monitor_env.world.client_factory, out=out.append
        )
        == 0
    )
    assert out == [f"session: authorized as account 424242 @carsbot_monitor; secret version {version}"]
    assert monitor_env.world.connected == []
    assert Lease().try_acquire()  # the check released the lease


def test_check_refuses_while_monitor_holds(monitor_env: MonitorEnv) -> None:
    monitor_env.store_session(monitor_env.new_session())
    running = Lease(owner="monitor:elsewhere", duration=60, margin=10)
    assert running.try_acquire()
    out: list[str] = []
    rc = cmd_session_check(
        argparse.Namespace(), client_factory=monitor_env.world.client_factory, out=out.append
    )
    assert rc == 3 and "monitor:elsewhere" in out[0] and "AUTH_KEY_DUPLICATED" in out[0]
    assert monitor_env.world.connects == 0


def test_check_reports_a_revoked_session(monitor_env: MonitorEnv) -> None:
    credentials = monitor_env.new_session()
    monitor_env.world.revoke(credentials)
    monitor_env.store_session(credentials)
    out: list[str] = []
    assert (
        cmd_session_check(
            argparse.Namespace(), client_factory=monitor_env.world.client_factory, out=out.append
        )
        == 1
    )
    assert "NOT authorized" in out[0] and credentials.session not in out[0]
