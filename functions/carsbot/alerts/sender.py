"""Sending queued notices within Telegram's limits, at most once each, never to users who blocked the bot.

For each ``NotifyMessage`` (a queue record, or one of a ``NotifyBatch`` pack: ``send_all``), in order:

1. the recipient's record (read for the whole batch at once): unknown or blocked -> dropped (``blocked``);
2. a claim on its ``dedupe_key`` (a conditional put, TTL 60 days): already claimed -> dropped
   (``duplicate``). The claim is taken *before* sending, so a notice is delivered at most once. Claims are
   taken a batch at a time — this notice and the next ones of the invocation, up to ``CLAIM_AHEAD``
   (a pack) — in one ``TransactWriteItems`` of conditional puts (``BatchWriteItem`` has no conditions). A
   transaction cancelled on taken keys names them (its cancellation reasons): those are duplicates, the
   rest is claimed again; when the reasons do not say, keys are claimed one by one;
3. the budget: ``alerts_rate_per_second`` (30) overall — sends of one invocation *start* at least
   ``1/30`` s apart and never more than 30 in any second (a sliding log of start times, with a little
   slack), and every invocation reserves its sends (a few at a time) in the state table's sliding log
   (``carsbot.adapters.ratelimit``), which concurrent invocations share — and
   ``alerts_per_chat_per_second`` (1) per chat; and any pause a 429 asked for;
4. the send. A 429 pauses every send for its ``retry_after`` and the notice is tried again after it
   (within the invocation's time budget, else the record fails and SQS redelivers it); a 403 ("bot was
   blocked by the user", "user is deactivated") marks the user blocked and drops the notice; another
   definite failure releases the claim and fails the record (retried, then dead-lettered); an unknown
   outcome (timeout after sending) keeps the claim: a notice may be missing, never doubled.

A pack's notices are all tried; if any must be tried again, the pack's record fails after the others
went out, and its redelivery sends only those (the rest are claimed). A claim taken ahead for a notice
that then cannot be sent in this invocation is released with it. Only a crash between claiming and
sending loses notices — at most the claimed batch, missing rather than doubled.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError

from carsbot.adapters.db.bot import BotStateModel
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.transactions import transact_write
from carsbot.adapters.db.users import UserModel, mark_blocked
from carsbot.adapters.ratelimit import RateLimitExceeded, SlidingWindowLimiter, Window
from carsbot.adapters.telegram_bot import OutcomeUnknownError, PermanentTelegramError, RetryableTelegramError
from carsbot.config import Settings
from carsbot.core.contracts import NotifyMessage
from carsbot.observability import add_metric, logger

if TYPE_CHECKING:
    from carsbot.adapters.telegram_bot import ChannelBot

Result = Literal["sent", "duplicate", "blocked", "unknown"]
ClaimState = Literal["held", "taken", "used"]  # ours to use; someone else's; ours, already used
CLAIM_TTL = timedelta(days=60)
MAX_TRANSACTION = 100  # TransactWriteItems' limit
CLAIM_AHEAD = 50  # claims taken together: a pack (carsbot.adapters.notify.PACK_SIZE), under 2 s of sends
CLAIM_ROUNDS = 3  # transactions tried (each without the keys the last one found taken) before one by one
PACE_SLACK = 0.05  # seconds added to the one-second window of the local send log
_BLOCKED_MARKERS = ("blocked by the user", "user is deactivated", "bot can't initiate", "chat not found")


class NoticeRetry(Exception):
    """The notice was not sent and should be tried again later (the record fails)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class SenderStats:
    """One invocation's counts, published as metrics once at its end (``publish``), not per notice."""

    sent: int = 0
    duplicates: int = 0
    blocked: int = 0  # skipped (known blocked or unknown) + marked (a 403 now)
    marked_blocked: int = 0
    unknown: int = 0
    throttled: int = 0  # 429 answers received
    failed: int = 0  # refused by the Bot API for another reason (the record is retried)
    sent_at: list[float] = field(default_factory=list)

    def publish(self) -> None:
        """One datapoint per metric and invocation (the dashboard sums them); zeros are left out."""
        if self.sent:
            add_metric("NoticesSent", self.sent)
        if self.duplicates:
            add_metric("NoticesDuplicate", self.duplicates)
        if self.blocked - self.marked_blocked:
            add_metric("NoticesSkippedBlocked", self.blocked - self.marked_blocked)
        if self.marked_blocked:
            add_metric("UsersMarkedBlocked", self.marked_blocked)
        if self.unknown:
            add_metric("NoticesOutcomeUnknown", self.unknown)
        if self.throttled:
            add_metric("NoticesThrottled", self.throttled)
        if self.failed:
            add_metric("NoticesFailed", self.failed)


def _claim_key(dedupe_key: str) -> str:
    return "notify#" + hashlib.sha256(dedupe_key.encode()).hexdigest()[:40]


def _markup(message: NotifyMessage) -> Any:
    if not message.buttons:
        return None
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.text, url=b.url, callback_data=b.callback_data) for b in row]
            for row in message.buttons
        ]
    )


class NoticeSender:
    """Sends notices for one invocation (one Bot API session, one time budget)."""

    def __init__(
        self,
        settings: Settings,
        bot_factory: Callable[[], ChannelBot],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
    ) -> None:
        self.settings = settings
        self._bot_factory = bot_factory
        self._bot: ChannelBot | None = None
        self._clock = clock
        self._sleep = sleep
        self.deadline = deadline
        self.limiter = SlidingWindowLimiter(
            Window("alerts", settings.alerts_rate_per_second, 1.0), clock=clock, sleep=sleep
        )
        self.interval = 1.0 / max(1, settings.alerts_rate_per_second)
        self.chat_interval = 1.0 / max(1, settings.alerts_per_chat_per_second)
        self.claim_ahead = min(MAX_TRANSACTION, CLAIM_AHEAD)
        self._starts: deque[float] = deque(maxlen=max(1, settings.alerts_rate_per_second))
        self._last_to_chat: dict[int, float] = {}
        self._paused_until = 0.0
        self._reserved = 0  # sends reserved in the shared log and not used yet
        self._expected = 1  # notices left in this invocation (how many to reserve at once)
        self._users: dict[int, UserModel | None] = {}
        self._upcoming: list[NotifyMessage] = []  # this invocation's notices, in order (claimed ahead)
        self._claims: dict[str, ClaimState] = {}
        self.stats = SenderStats()

    def expect(self, messages: Sequence[NotifyMessage]) -> None:
        """The notices this invocation will send, in order: their recipients are read at once, their
        claims taken a batch at a time, their sends reserved a few at a time."""
        self._expected = max(1, len(messages))
        self._upcoming = list(messages)
        wanted = sorted({m.chat_id for m in messages if m.chat_id not in self._users})
        for start in range(0, len(wanted), 100):
            found = {int(u.user_id): u for u in UserModel.batch_get(wanted[start : start + 100])}
            for chat_id in wanted[start : start + 100]:
                self._users[chat_id] = found.get(chat_id)

    def _user(self, chat_id: int) -> UserModel | None:
        if chat_id not in self._users:
            try:
                self._users[chat_id] = UserModel.get(chat_id)
            except DoesNotExist:
                self._users[chat_id] = None
        return self._users[chat_id]

    def _reserve(self) -> None:
        """One send from the shared budget (reserving up to a batch's worth in one write)."""
        if self._reserved == 0:
            wanted = min(self._expected, self.limiter.capacity, 10)
            try:
                self.limiter.acquire(wanted, max_wait=max(0.0, min(self._time_left(), 30.0)))
            except RateLimitExceeded as exc:
                raise NoticeRetry(str(exc), retry_after=exc.retry_after) from None
            self._reserved = wanted
        self._reserved -= 1
        self._expected = max(1, self._expected - 1)

    @property
    def bot(self) -> ChannelBot:
        if self._bot is None:
            self._bot = self._bot_factory()
        return self._bot

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _time_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - self._clock()

    def _next_start(self) -> float:
        """When the next send may start: ``1/rate`` after the last start, and no more than ``rate``
        starts in any second (with slack, so request latency jitter cannot bunch them past Telegram's)."""
        if not self._starts:
            return -1e18
        spaced = self._starts[-1] + self.interval
        if len(self._starts) < (self._starts.maxlen or 1):
            return spaced
        return max(spaced, self._starts[0] + 1.0 + PACE_SLACK)

    def _wait_until(self, when: float) -> None:
        delay = when - self._clock()
        if delay <= 0:
            return
        if delay > self._time_left():
            raise NoticeRetry("out of time for this invocation", retry_after=delay)
        self._sleep(delay)

    # ------------------------------------------------------------------ claims

    def _claim_item(self, dedupe_key: str) -> BotStateModel:
        now = self._now()
        return BotStateModel(
            _claim_key(dedupe_key), state="claimed", updated_at=now, expires_at=now + CLAIM_TTL
        )

    def _claim_one(self, dedupe_key: str) -> bool:
        try:
            self._claim_item(dedupe_key).save(condition=BotStateModel.pk.does_not_exist())
        except PutError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def _claim_batch(self, keys: list[str]) -> None:
        """Claim ``keys`` (distinct, unclaimed here): one transaction, again without the taken ones."""
        todo = keys
        for _ in range(CLAIM_ROUNDS):
            if len(todo) <= 1:
                break
            try:
                with transact_write() as tx:
                    for key in todo:
                        tx.save(self._claim_item(key), condition=BotStateModel.pk.does_not_exist())
            except TransactWriteError as exc:
                codes = [getattr(r, "code", None) for r in getattr(exc, "cancellation_reasons", None) or []]
                if not codes:
                    raise  # not cancelled on its items (throttled, unreachable...): the record fails
                if len(codes) != len(todo) or set(codes) - {None, "ConditionalCheckFailed"}:
                    break  # cancelled for another reason too (a conflicting write): one by one below
                taken = {k for k, c in zip(todo, codes, strict=True) if c == "ConditionalCheckFailed"}
                self._claims.update(dict.fromkeys(taken, "taken"))
                todo = [k for k in todo if k not in taken]
                continue
            self._claims.update(dict.fromkeys(todo, "held"))
            return
        for key in todo:
            self._claims[key] = "held" if self._claim_one(key) else "taken"

    def _ahead(self, message: NotifyMessage) -> list[str]:
        """The keys to claim with ``message``'s: the next deliverable, unclaimed notices of the invocation."""
        keys = [message.dedupe_key]
        upcoming = [m.dedupe_key for m in self._upcoming]
        start = upcoming.index(message.dedupe_key) + 1 if message.dedupe_key in upcoming else len(upcoming)
        for later in self._upcoming[start:]:
            if len(keys) >= self.claim_ahead:
                break
            user = self._users.get(later.chat_id)
            if user is None or user.blocked or later.dedupe_key in self._claims or later.dedupe_key in keys:
                continue
            keys.append(later.dedupe_key)
        return keys

    def _claim(self, message: NotifyMessage) -> bool:
        """True when this invocation holds ``message``'s claim and has not used it yet (it is used now)."""
        if message.dedupe_key not in self._claims:
            self._claim_batch(self._ahead(message))
        if self._claims[message.dedupe_key] != "held":
            return False
        self._claims[message.dedupe_key] = "used"  # the same key again in this invocation: a duplicate
        return True

    def _release(self, message: NotifyMessage) -> None:
        BotStateModel(_claim_key(message.dedupe_key)).delete()
        self._claims.pop(message.dedupe_key, None)

    def release_unused(self) -> int:
        """Release claims taken ahead and never used (a batch cut short); returns how many."""
        unused = [key for key, state in self._claims.items() if state == "held"]
        for key in unused:
            BotStateModel(_claim_key(key)).delete()
            del self._claims[key]
        return len(unused)

    # ------------------------------------------------------------------ sending

    def send(self, message: NotifyMessage) -> Result:
        user = self._user(message.chat_id)
        if user is None or user.blocked:
            self.stats.blocked += 1
            return "blocked"
        if not self._claim(message):
            self.stats.duplicates += 1
            return "duplicate"
        try:
            return self._deliver(message)
        except NoticeRetry:
            self._release(message)
            raise

    def send_all(self, messages: list[NotifyMessage]) -> list[Result]:
        """Send a pack's notices in order, each as ``send``; every one is tried, and when some must be
        tried again (their claims released) ``NoticeRetry`` is raised after the others went out."""
        results: list[Result] = []
        retry: list[NoticeRetry] = []
        for message in messages:
            try:
                results.append(self.send(message))
            except NoticeRetry as exc:
                retry.append(exc)
        if retry:
            waits = [exc.retry_after for exc in retry if exc.retry_after is not None]
            raise NoticeRetry(
                f"{len(retry)} of {len(messages)} notices to try again: {retry[0]}",
                retry_after=max(waits) if waits else None,
            )
        return results

    def _deliver(self, message: NotifyMessage) -> Result:
        markup = _markup(message)
        while True:
            chat_free = self._last_to_chat.get(message.chat_id, -1e18) + self.chat_interval
            self._wait_until(max(self._paused_until, chat_free, self._next_start()))
            self._reserve()
            started = self._clock()
            self._starts.append(started)
            try:
                self.bot.send_text(message.chat_id, message.text, reply_markup=markup)
            except OutcomeUnknownError as exc:
                self.stats.unknown += 1
                logger.warning(
                    "notice outcome unknown; not re-sent",
                    extra={"chat_id": message.chat_id, "error": exc.description},
                )
                return "unknown"
            except RetryableTelegramError as exc:
                if exc.retry_after:
                    self.stats.throttled += 1
                    self._paused_until = max(self._paused_until, self._clock() + exc.retry_after)
                    logger.warning(
                        "bot api 429 during fan-out: pausing", extra={"retry_after": exc.retry_after}
                    )
                    continue  # wait out the pause (or give the record back when time runs out)
                raise NoticeRetry(f"chat {message.chat_id}: {exc.description}") from None
            except PermanentTelegramError as exc:
                text = exc.description.lower()
                if "forbidden" in text or any(marker in text for marker in _BLOCKED_MARKERS):
                    mark_blocked(message.chat_id, True, self._now())
                    self._users.pop(message.chat_id, None)
                    self.stats.blocked += 1
                    self.stats.marked_blocked += 1
                    logger.info("user blocked the bot; marked", extra={"chat_id": message.chat_id})
                    return "blocked"
                logger.error(
                    "notice refused by the bot api",
                    extra={"chat_id": message.chat_id, "error": exc.description},
                )
                self.stats.failed += 1
                raise NoticeRetry(f"chat {message.chat_id}: {exc.description}") from None
            self._last_to_chat[message.chat_id] = started
            self.stats.sent += 1
            self.stats.sent_at.append(started)
            return "sent"
