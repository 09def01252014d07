"""Admin commands, for the Telegram user ids in ``admin_ids`` only (everyone else: no hint they exist).

``/stats``, ``/channels [add|pause|resume|remove <channel>]``, ``/grant <user id|@username> <days>``,
``/revoke <user>``, ``/listing <id> [hide|show]``, ``/broadcast <text>`` (preview, then a confirm button;
sent through the rate-limited fan-out to users who have not blocked the bot). Every action is logged
with the admin's id.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from carsbot.adapters.db.bot import set_listing_hidden
from carsbot.adapters.db.users import UserModel
from carsbot.bot import accounts, stats
from carsbot.bot.cards import teaser_text
from carsbot.bot.contact_flow import load_listing
from carsbot.bot.middlewares import IsAdmin
from carsbot.channels.refs import InvalidChannelRef
from carsbot.channels.registry import ChannelNotFound, ChannelRegistry
from carsbot.core.contracts import NotifyMessage
from carsbot.core.entitlements import MOSCOW
from carsbot.core.formatting import format_int, format_rub
from carsbot.observability import logger

BROADCAST_SEND = "bc:send"
BROADCAST_CANCEL = "bc:cancel"
MAX_GRANT_DAYS = 3650
Outbox = Callable[[Sequence[NotifyMessage]], int]


class Broadcast(StatesGroup):
    confirm = State()


def _audit(admin: int, action: str, **details: Any) -> None:
    logger.info("admin action", extra={"admin_id": admin, "action": action, **details})


def _stats_text(result: stats.Stats) -> str:
    def block(title: str, p: stats.Period) -> list[str]:
        revenue = format_rub(p.revenue) if p.revenue is not None else "—"
        return [
            f"<b>{html.escape(title)}</b>",
            _("Posts: {n}").format(n=format_int(p.posts)),
            _("Listings: {n}, published: {m}").format(n=format_int(p.listings), m=format_int(p.published)),
            _("Rejected: {n}, duplicates: {m}").format(n=format_int(p.rejected), m=format_int(p.duplicates)),
            _("New users: {n}").format(n=format_int(p.new_users)),
            _("Contact requests: {n}").format(n=format_int(p.contact_requests)),
            _("Revenue: {amount}").format(amount=revenue),
        ]

    lines = [*block(_("Today"), result.today), "", *block(_("7 days"), result.week), ""]
    lines.append(_("Active subscribers: {n}").format(n=format_int(result.active_subscribers)))
    return "\n".join(lines)


def _channels_text(registry: ChannelRegistry) -> str:
    records = [r for r in registry.list_channels() if r.status != "removed"]
    if not records:
        return _("No channels yet. Add one: /channels add @name")
    lines = [_("Channels ({n}):").format(n=len(records))]
    for record in records:
        state = {"active": _("active"), "paused": _("paused")}.get(record.status, record.status)
        name = html.escape(record.title or record.ref)
        error = f" ⚠️ {html.escape(record.join_error)}" if record.join_error else ""
        lines.append(f"• {name} ({html.escape(record.ref)}) — {state}{error}")
    return "\n".join(lines)


def router() -> Router:
    r = Router(name="admin")
    r.message.filter(IsAdmin(), F.chat.type == "private")
    r.callback_query.filter(IsAdmin())

    @r.message(Command("stats"))
    async def show_stats(
        message: Message, clock: Callable[[], datetime], revenue: stats.Revenue | None
    ) -> None:
        assert message.from_user is not None
        _audit(message.from_user.id, "stats")
        await message.answer(_stats_text(stats.collect(clock(), revenue)))

    @r.message(Command("channels"))
    async def channels(message: Message, command: CommandObject) -> None:
        assert message.from_user is not None
        registry = ChannelRegistry()
        parts = (command.args or "").split()
        if not parts:
            await message.answer(_channels_text(registry))
            return
        action, ref = parts[0].lower(), " ".join(parts[1:])
        if action not in ("add", "pause", "resume", "remove") or not ref:
            await message.answer(
                html.escape(_("Usage: /channels [add|pause|resume|remove] <@name or t.me link>"))
            )
            return
        try:
            if action == "add":
                record, created = registry.add(ref)
                text = _("Channel {ref} added.") if created else _("Channel {ref} is active again.")
            elif action == "pause":
                record, text = registry.pause(ref), _("Channel {ref} paused.")
            elif action == "resume":
                record, text = registry.resume(ref), _("Channel {ref} resumed.")
            else:
                record, text = registry.remove(ref), _("Channel {ref} removed.")
        except InvalidChannelRef:
            await message.answer(_("This is not a channel link. Use @name, t.me/name or an invite link."))
            return
        except ChannelNotFound:
            await message.answer(_("No such channel in the list."))
            return
        _audit(message.from_user.id, f"channels.{action}", ref=record.ref)
        await message.answer(text.format(ref=html.escape(record.ref)))

    @r.message(Command("grant"))
    async def grant(
        message: Message, command: CommandObject, bot: Bot, clock: Callable[[], datetime]
    ) -> None:
        assert message.from_user is not None
        parts = (command.args or "").split()
        if len(parts) != 2 or not parts[1].isdigit() or not 0 < int(parts[1]) <= MAX_GRANT_DAYS:
            await message.answer(html.escape(_("Usage: /grant <user id or @username> <days (1-3650)>")))
            return
        user = accounts.find_user(parts[0])
        if user is None:
            await message.answer(_("User not found. They need to start the bot first."))
            return
        days = int(parts[1])
        updated = accounts.grant_days(int(user.user_id), days, now=clock())
        _audit(message.from_user.id, "grant", user_id=int(user.user_id), days=days)
        end = (
            updated.subscription_end.astimezone(MOSCOW).strftime("%d.%m.%Y")
            if updated.subscription_end
            else "—"
        )
        await message.answer(
            _("Granted {days} days to {user}: active until {date}.").format(
                days=days, user=int(user.user_id), date=end
            )
        )

    @r.message(Command("revoke"))
    async def revoke(message: Message, command: CommandObject, clock: Callable[[], datetime]) -> None:
        assert message.from_user is not None
        parts = (command.args or "").split()
        if len(parts) != 1:
            await message.answer(html.escape(_("Usage: /revoke <user id or @username>")))
            return
        user = accounts.find_user(parts[0])
        if user is None:
            await message.answer(_("User not found."))
            return
        accounts.revoke(int(user.user_id), now=clock())
        _audit(message.from_user.id, "revoke", user_id=int(user.user_id))
        await message.answer(_("Subscription of {user} revoked.").format(user=int(user.user_id)))

    @r.message(Command("listing"))
    async def listing(message: Message, command: CommandObject) -> None:
        assert message.from_user is not None
        parts = (command.args or "").split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("hide", "show")):
            await message.answer(html.escape(_("Usage: /listing <id> [hide|show]")))
            return
        listing_id = parts[0].removeprefix("l_")
        if len(parts) == 2:
            set_listing_hidden(listing_id, parts[1] == "hide", by=message.from_user.id)
            _audit(message.from_user.id, f"listing.{parts[1]}", listing_id=listing_id)
            text = (
                _("Listing {id} is hidden from the bot.")
                if parts[1] == "hide"
                else _("Listing {id} is shown in the bot again.")
            )
            await message.answer(text.format(id=html.escape(listing_id)))
            return
        found = load_listing(listing_id)
        if found is None:
            await message.answer(_("Listing not found (or hidden)."))
            return
        _audit(message.from_user.id, "listing.show", listing_id=listing_id)
        await message.answer(
            teaser_text(found) + "\n" + _("Status: {status}").format(status=html.escape(found.status))
        )

    @r.message(Command("broadcast"))
    async def broadcast(message: Message, command: CommandObject, state: FSMContext) -> None:
        text = (command.args or "").strip()
        if not text:
            await message.answer(
                html.escape(_("Usage: /broadcast <text>. You will see a preview before it is sent."))
            )
            return
        await state.set_state(Broadcast.confirm)
        await state.set_data({"text": html.escape(text)})
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text=_("✅ Send to everyone"), callback_data=BROADCAST_SEND),
                    InlineKeyboardButton(text=_("Cancel"), callback_data=BROADCAST_CANCEL),
                ]
            ]
        )
        await message.answer(_("Preview:") + "\n\n" + html.escape(text), reply_markup=keyboard)

    @r.callback_query(F.data == BROADCAST_CANCEL)
    async def broadcast_cancel(query: CallbackQuery, state: FSMContext) -> None:
        await state.clear()
        await query.answer(_("Cancelled."))

    @r.callback_query(F.data == BROADCAST_SEND)
    async def broadcast_send(query: CallbackQuery, state: FSMContext, outbox: Outbox) -> None:
        data = await state.get_data()
        await state.clear()
        text = data.get("text")
        if not text or query.message is None:
            await query.answer(_("Nothing to send: start again with /broadcast."), show_alert=True)
            return
        broadcast_id = uuid.uuid4().hex[:10]
        messages = [
            NotifyMessage(
                chat_id=int(u.user_id),
                text=text,
                dedupe_key=f"broadcast:{broadcast_id}:{int(u.user_id)}",
                category="broadcast",
            )
            for u in UserModel.scan(
                filter_condition=UserModel.blocked.does_not_exist() | (UserModel.blocked == False),  # noqa: E712
                attributes_to_get=["user_id"],
            )
        ]
        queued = outbox(messages)
        _audit(query.from_user.id, "broadcast", broadcast_id=broadcast_id, recipients=queued)
        await query.answer()
        await query.message.answer(_("Queued for {n} users.").format(n=queued))

    return r
