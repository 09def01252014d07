"""``carsbot session|channels|monitor`` sub-commands (registered by ``carsbot.cli``).

* ``carsbot session login`` — interactive login (phone, code, 2FA password); stores a NEW secret version.
* ``carsbot session check`` — connects with the stored session (holding the lease, so it never runs
  beside the monitor) and reports whether it is authorized and as which account. Never prints it.
* ``carsbot channels add|list|pause|resume|remove`` — the channel registry.
* ``carsbot monitor run`` — the monitor (the container command); ``carsbot monitor healthcheck`` — the
  container health check (fresh heartbeat file -> exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carsbot_monitor.session import ClientFactory, SessionCredentials

Printer = Callable[[str], None]


def register(subparsers: Any) -> None:
    # ---- session
    session = subparsers.add_parser("session", help="the monitor's Telegram user session (Secrets Manager)")
    session_sub = session.add_subparsers(dest="session_command", required=True, metavar="ACTION")
    login = session_sub.add_parser(
        "login", help="log in interactively and store the session as a new version"
    )
    login.add_argument("--api-id", type=int, help="my.telegram.org api_id (default: from the stored secret)")
    login.add_argument("--api-hash", help="my.telegram.org api_hash (default: from the stored secret)")
    login.add_argument("--phone", help="phone number in international format (prompted if omitted)")
    login.set_defaults(func=cmd_session_login)
    check = session_sub.add_parser("check", help="verify the stored session (authorized, which account)")
    check.set_defaults(func=cmd_session_check)

    # ---- channels
    channels = subparsers.add_parser("channels", help="source channels the monitor watches")
    channels_sub = channels.add_subparsers(dest="channels_command", required=True, metavar="ACTION")
    add = channels_sub.add_parser(
        "add", help="add a channel: @name, t.me/name, t.me/+HASH, t.me/joinchat/HASH"
    )
    add.add_argument("ref")
    add.add_argument("--seller-phone", help="seller phone to show for this channel's listings")
    add.add_argument("--seller-username", help="seller Telegram username for this channel's listings")
    add.set_defaults(func=cmd_channels_add)
    listing = channels_sub.add_parser("list", help="list registered channels")
    listing.add_argument("--status", choices=["active", "paused", "removed"])
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_channels_list)
    for name, text in (
        ("pause", "stop queuing posts (the monitor catches up when resumed)"),
        ("resume", "start queuing posts again"),
        ("remove", "stop watching the channel"),
    ):
        command = channels_sub.add_parser(name, help=text)
        command.add_argument("ref", help="channel reference or numeric id")
        if name == "resume":
            command.add_argument(
                "--skip-missed", action="store_true", help="start from the newest post instead of catching up"
            )
        command.set_defaults(func=cmd_channels_status, status=name)

    # ---- monitor
    monitor = subparsers.add_parser("monitor", help="the Telegram monitor process")
    monitor_sub = monitor.add_subparsers(dest="monitor_command", required=True, metavar="ACTION")
    run = monitor_sub.add_parser("run", help="run the monitor until SIGTERM (the container command)")
    run.set_defaults(func=cmd_monitor_run)
    healthcheck = monitor_sub.add_parser("healthcheck", help="exit 0 if the monitor's heartbeat is fresh")
    healthcheck.add_argument(
        "--max-age", type=float, help="seconds (default CARSBOT_MONITOR_HEALTHCHECK_MAX_AGE_SECONDS)"
    )
    healthcheck.set_defaults(func=cmd_monitor_healthcheck)


# ---------------------------------------------------------------------------------------------- helpers


def _bind() -> Any:
    from carsbot.adapters.db import bind_tables
    from carsbot.config import get_settings

    settings = get_settings()
    bind_tables(settings)
    return settings


def _quiet_telethon() -> None:
    logging.getLogger("telethon").setLevel(logging.WARNING)


# ---------------------------------------------------------------------------------------------- session


def cmd_session_login(
    args: argparse.Namespace,
    *,
    client_factory: ClientFactory | None = None,
    prompt: Callable[[str], str] = input,
    secret_prompt: Callable[[str], str] = getpass.getpass,
    out: Printer = print,
) -> int:
    from carsbot_monitor.session import SessionSecretError, SessionStore, telethon_client

    _quiet_telethon()
    settings = _bind()
    store = SessionStore(settings.telegram_session_secret)
    api_id, api_hash = args.api_id, args.api_hash
    if not (api_id and api_hash):
        try:
            existing = store.load()
            api_id, api_hash = api_id or existing.api_id, api_hash or existing.api_hash
        except SessionSecretError:
            pass
    if not api_id:
        api_id = int(prompt("api_id (from my.telegram.org): ").strip())
    if not api_hash:
        api_hash = secret_prompt("api_hash (from my.telegram.org, hidden): ").strip()
    phone = (args.phone or prompt("Phone number (international format, e.g. +7...): ")).strip()
    factory = client_factory or telethon_client
    try:
        session_string, user = asyncio.run(
            _login(factory(SessionCredentials(api_id, api_hash, "")), phone, prompt, secret_prompt, out)
        )
    except LoginFailed as exc:
        out(f"login failed: {exc}")
        return 1
    version = store.store(SessionCredentials(api_id, api_hash, session_string))
    username = f"@{user.username}" if getattr(user, "username", None) else "(no username)"
    out(
        f"Logged in as account {user.id} {username}. Stored as secret version {version}; a running monitor "
        "switches to it at its next secret check."
    )
    return 0


class LoginFailed(RuntimeError):
    pass


async def _login(
    client: Any, phone: str, prompt: Callable[[str], str], secret_prompt: Callable[[str], str], out: Printer
) -> tuple[str, Any]:
    from telethon import errors

    from carsbot_monitor.session import verify_authorized

    await client.connect()
    try:
        try:
            await client.send_code_request(phone)
        except (errors.PhoneNumberInvalidError, errors.PhoneNumberBannedError) as exc:
            raise LoginFailed(type(exc).__name__) from exc
        except errors.FloodWaitError as exc:
            raise LoginFailed(f"Telegram asks to wait {exc.seconds} s before the next login attempt") from exc
        signed_in = False
        for _ in range(3):
            code = prompt("Login code (sent to your Telegram app): ").strip()
            try:
                await client.sign_in(phone=phone, code=code)
                signed_in = True
                break
            except (errors.PhoneCodeInvalidError, errors.PhoneCodeEmptyError):
                out("That code is not right; try again.")
            except errors.PhoneCodeExpiredError as exc:
                raise LoginFailed("the code expired; run the command again") from exc
            except errors.SessionPasswordNeededError:
                for _ in range(3):
                    password = secret_prompt("Two-step verification password (hidden): ")
                    try:
                        await client.sign_in(password=password)
                        signed_in = True
                        break
                    except errors.PasswordHashInvalidError:
                        out("That password is not right; try again.")
                break
        if not signed_in:
            raise LoginFailed("too many wrong attempts")
        user = await verify_authorized(client)
        return client.session.save(), user
    finally:
        result = client.disconnect()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await result


def cmd_session_check(
    args: argparse.Namespace, *, client_factory: ClientFactory | None = None, out: Printer = print
) -> int:
    from carsbot_monitor.lease import Lease
    from carsbot_monitor.session import SessionDead, SessionSecretError, SessionStore, telethon_client
    from carsbot_monitor.settings import MonitorSettings

    _quiet_telethon()
    settings = _bind()
    config = MonitorSettings()
    store = SessionStore(settings.telegram_session_secret)
    try:
        credentials = store.load()
    except SessionSecretError as exc:
        out(f"session: not usable: {exc}")
        return 1
    lease = Lease(config.lease_key, duration=120.0, margin=30.0, purpose="session-check")
    if not lease.try_acquire():
        holder = lease.holder()
        owner = holder.owner if holder else "unknown"
        expires = holder.expires_at.isoformat() if holder and holder.expires_at else "unknown"
        out(
            f"session: not checked: the session is in use by {owner} (lease until {expires}). Connecting it "
            "from a second place would get it revoked (AUTH_KEY_DUPLICATED); the running monitor reports "
            "its account in its logs and heartbeat."
        )
        return 3
    try:
        factory = client_factory or telethon_client
        user = asyncio.run(_check(factory(credentials)))
    except SessionDead as exc:
        out(f"session: NOT authorized ({exc.reason}); secret version {credentials.version_id}")
        return 1
    except (OSError, TimeoutError) as exc:
        out(f"session: could not reach Telegram: {exc!r}")
        return 2
    finally:
        lease.release()
    username = f"@{user.username}" if getattr(user, "username", None) else "(no username)"
    out(f"session: authorized as account {user.id} {username}; secret version {credentials.version_id}")
    return 0


CHECK_TIMEOUT_SECONDS = 80.0


async def _check(client: Any) -> Any:
    from carsbot_monitor.session import verify_authorized

    try:
        # One overall bound, ending before the check's own lease (120 s, 30 s margin) could be taken over.
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await client.connect()
            return await verify_authorized(client)
    finally:
        result = client.disconnect()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await result


# ---------------------------------------------------------------------------------------------- channels


def cmd_channels_add(args: argparse.Namespace, *, out: Printer = print) -> int:
    from carsbot.channels import ChannelRegistry, InvalidChannelRef

    _bind()
    try:
        record, created = ChannelRegistry().add(
            args.ref, seller_phone=args.seller_phone, seller_username=args.seller_username
        )
    except InvalidChannelRef as exc:
        out(f"not a channel reference: {exc}")
        return 2
    out(f"{'added' if created else 'active again'}: {record.ref} (the monitor picks it up within a minute)")
    return 0


def cmd_channels_list(args: argparse.Namespace, *, out: Printer = print) -> int:
    from carsbot.channels import ChannelRegistry

    _bind()
    records = ChannelRegistry().list_channels(args.status)
    if args.json:
        for record in records:
            out(json.dumps(record.as_dict(), ensure_ascii=False))
        return 0
    if not records:
        out("no channels registered")
        return 0
    out(f"{'REF':<34} {'STATUS':<8} {'CHANNEL ID':<14} {'CHECKPOINT':<10} TITLE / ERROR")
    for record in records:
        detail = record.title or ""
        if record.join_error:
            detail = f"{detail} [error: {record.join_error}]".strip()
        channel_id = record.channel_id if record.channel_id is not None else "-"
        out(f"{record.ref:<34} {record.status:<8} {channel_id!s:<14} {record.last_message_id:<10} {detail}")
    return 0


def cmd_channels_status(args: argparse.Namespace, *, out: Printer = print) -> int:
    from carsbot.channels import ChannelNotFound, ChannelRegistry, ChannelStatus, InvalidChannelRef

    _bind()
    status = {"pause": ChannelStatus.PAUSED, "resume": ChannelStatus.ACTIVE, "remove": ChannelStatus.REMOVED}[
        args.status
    ]
    try:
        record = ChannelRegistry().set_status(
            args.ref, status, skip_missed=bool(getattr(args, "skip_missed", False))
        )
    except InvalidChannelRef as exc:
        out(f"not a channel reference: {exc}")
        return 2
    except ChannelNotFound as exc:
        out(str(exc))
        return 1
    out(f"{record.ref}: {status.value} (the monitor applies it within a minute)")
    return 0


# ---------------------------------------------------------------------------------------------- monitor


def cmd_monitor_run(args: argparse.Namespace) -> int:
    from carsbot_monitor.app import Monitor, run_monitor

    _quiet_telethon()
    settings = _bind()
    return run_monitor(Monitor(settings=settings))


def cmd_monitor_healthcheck(args: argparse.Namespace, *, out: Printer = print) -> int:
    from carsbot_monitor.health import check_health
    from carsbot_monitor.settings import MonitorSettings

    config = MonitorSettings()
    healthy, reason = check_health(
        Path(config.heartbeat_file), args.max_age or config.healthcheck_max_age_seconds
    )
    out(reason)
    return 0 if healthy else 1
