"""Alarm state changes -> a Russian message in the admins' Telegram chat, with what to do and the runbook.

CloudWatch alarms send every change (ALARM and OK) to the stage's SNS topic; the notifier function
(``functions/alarms/app.py``) hands each SNS message to :func:`parse_notification` and
:meth:`AlarmNotifier.send`. The alarm is recognised by its logical id in the template (CloudFormation
names alarms ``<stack>-<LogicalId>-<suffix>``), which picks its entry in :data:`RUNBOOKS`: a Russian title,
what to do, and the section of docs/operations.md. Every alarm of the template has an entry (a test checks
it, and that the section exists).

Delivery: the Bot API adapter retries 429/5xx inside the call (bounded); a failure that is left raises, so
Lambda retries the asynchronous invocation and finally puts the event into the notifier's DLQ.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RUNBOOK_DOC = "docs/operations.md"
REASON_LIMIT = 600


@dataclass(frozen=True)
class Runbook:
    title: str  # Russian: what is wrong
    action: str  # Russian: what to do; {stage} is replaced by the stage name
    section: str  # anchor in docs/operations.md
    heading: str  # that section's heading


_DLQ_ACTION = (
    "Посмотрите, почему сообщения не обработаны: <code>carsbot dlq show {queue} --stage {stage}</code>. "
    "Устраните причину, затем верните их в очередь: <code>carsbot dlq redrive {queue} --stage {stage}</code>."
)
_DLQ = ("dlq-growth", "DLQ growth")
_SESSION = ("a-revoked-session", "A revoked session")
_ERRORS = ("function-errors", "Function errors")

RUNBOOKS: dict[str, Runbook] = {
    "PostsDLQAlarm": Runbook(
        "Посты не обработаны (DLQ постов не пуст)", _DLQ_ACTION.replace("{queue}", "posts"), *_DLQ
    ),
    "PublishDLQAlarm": Runbook(
        "Объявления не опубликованы (DLQ публикации не пуст)",
        _DLQ_ACTION.replace("{queue}", "publish"),
        *_DLQ,
    ),
    "AlertsDLQAlarm": Runbook(
        "Уведомления подписчикам не отправлены (DLQ уведомлений не пуст)",
        _DLQ_ACTION.replace("{queue}", "alerts"),
        *_DLQ,
    ),
    "AlarmNotifyDLQAlarm": Runbook(
        "Оповещения о тревогах не доставлены в чат (DLQ оповещений не пуст)",
        "Проверьте, что бот состоит в админ-чате и параметр AlarmChatId верен; события — "
        "<code>carsbot dlq show alarm-notify --stage {stage}</code>, затем <code>carsbot dlq purge</code>.",
        *_DLQ,
    ),
    "ExtractErrorsAlarm": Runbook(
        "Функция извлечения (extract) падает",
        "Ошибки — в логах функции extract; если началось после выкладки — откатите её.",
        *_ERRORS,
    ),
    "PublishErrorsAlarm": Runbook(
        "Функция публикации (publish) падает",
        "Ошибки — в логах функции publish (права бота в канале, токен); после выкладки — откат.",
        *_ERRORS,
    ),
    "BotFunctionErrorsAlarm": Runbook(
        "Вебхук бота падает (Telegram копит обновления)",
        "Ошибки — в логах функции bot; после выкладки — откатите алиас бота на прошлую версию.",
        *_ERRORS,
    ),
    "BotErrorsAlarm": Runbook(
        "Обработчики бота выдают ошибки",
        "Ошибки с номерами обновлений — в логах функции bot; после выкладки — откат.",
        *_ERRORS,
    ),
    "AlertsErrorsAlarm": Runbook(
        "Функция уведомлений подписчикам (alerts) падает",
        "Ошибки — в логах функции alerts; задания повторятся, после 5 попыток — DLQ уведомлений.",
        *_ERRORS,
    ),
    "JobsErrorsAlarm": Runbook(
        "Задание жизненного цикла подписок (jobs) не выполнилось",
        "Ошибки и подписчики — в логах функции jobs; следующий час задание повторит.",
        *_ERRORS,
    ),
    "WebhookRejectedAlarm": Runbook(
        "Запросы к вебхуку без верного секрета",
        "Если секрет вебхука меняли — выполните <code>carsbot bot set-webhook --stage {stage}</code>; "
        "иначе кто-то перебирает адрес, это не опасно.",
        "webhook-requests-rejected",
        "Webhook requests rejected",
    ),
    "ContactCapAlarm": Runbook(
        "Подписчик упёрся в дневной лимит контактов",
        "Возможно, выгрузка базы: найдите пользователя в логах бота и при необходимости отзовите доступ.",
        "contact-cap-reached",
        "Contact cap reached",
    ),
    "MonitorHeartbeatAlarm": Runbook(
        "Монитор не следит за каналами (нет пульса 10 минут)",
        "Проверьте задачу ECS и её логи; <code>carsbot status --stage {stage}</code> покажет аренду сессии.",
        "monitor-heartbeat-missing",
        "Monitor heartbeat missing",
    ),
    "MonitorSessionAlarm": Runbook(
        "Telegram отозвал сессию монитора",
        "Войдите заново: <code>carsbot session login --stage {stage}</code> (телефон, код, пароль 2FA).",
        *_SESSION,
    ),
    "MonitorRotationAlarm": Runbook(
        "Новая сессия не подошла, монитор работает на прежней",
        "Сохраните рабочую сессию ещё раз: <code>carsbot session login --stage {stage}</code>.",
        *_SESSION,
    ),
    "FloodWaitAlarm": Runbook(
        "Telegram тормозит монитор (FloodWait)",
        "Не добавляйте каналы пачкой и не перезапускайте монитор; ожидания проходят сами.",
        "floodwait-storms",
        "FloodWait storms",
    ),
    "ChannelJoinFailedAlarm": Runbook(
        "Монитор потерял доступ к каналу",
        "<code>carsbot channels list --stage {stage}</code> покажет канал с ошибкой; обновите ссылку или "
        "удалите его.",
        "a-channel-that-lost-access",
        "A channel that lost access",
    ),
    "PublishLatencyAlarm": Runbook(
        "Объявления публикуются с задержкой (p95 выше порога)",
        "Проверьте очередь публикации и 429 от Bot API: <code>carsbot status --stage {stage}</code>.",
        "bot-api-429s",
        "Bot API 429s",
    ),
    "PublishRateLimitedAlarm": Runbook(
        "Bot API отвечает 429 на публикации",
        "Снизьте PublishRatePerMinute или подождите: публикации повторяются сами.",
        "bot-api-429s",
        "Bot API 429s",
    ),
    "LLMFallbackRateAlarm": Runbook(
        "LLM недоступна: объявления разбираются правилами",
        "Проверьте ключ OpenAI (секрет openai) и статус API; качество объявлений ниже, пока это длится.",
        "llm-fallbacks",
        "LLM fallbacks",
    ),
    "PaymentCallbackRejectedAlarm": Runbook(
        "Уведомления об оплате отклонены",
        "Сверьте адреса YooKassa и заказы в логах платежей; подделки — игнорировать, свои — разобрать.",
        "yookassa-rejections",
        "YooKassa rejections",
    ),
    "PaymentCallbackRetryAlarm": Runbook(
        "Уведомления об оплате не обрабатываются",
        "API YooKassa недоступен или ключи отклонены: проверьте секрет yookassa; YooKassa повторит сама.",
        "yookassa-rejections",
        "YooKassa rejections",
    ),
    "RenewalFailedAlarm": Runbook(
        "Автопродления подписок не проходят",
        "Проверьте ответы YooKassa в логах задач; пользователи получили кнопку оплаты.",
        "yookassa-rejections",
        "YooKassa rejections",
    ),
    "PaymentsErrorsAlarm": Runbook(
        "Функции платежей падают",
        "Ошибки в логах функций payments/jobs; после выкладки — откат.",
        "yookassa-rejections",
        "YooKassa rejections",
    ),
    "SheetsSyncFailedAlarm": Runbook(
        "Синхронизация с Google-таблицей не работает",
        "Проверьте доступ сервисного аккаунта к таблице и лимиты Sheets API.",
        "sheets-sync-failing",
        "Sheets sync failing",
    ),
}

_STATES = {
    "ALARM": ("🔴", "ТРЕВОГА"),
    "OK": ("✅", "НОРМА"),
    "INSUFFICIENT_DATA": ("⚪️", "НЕТ ДАННЫХ"),
}


@dataclass(frozen=True)
class AlarmNotification:
    """The fields of CloudWatch's alarm message that the chat message needs."""

    name: str
    description: str
    new_state: str
    old_state: str
    reason: str
    changed_at: str
    region: str
    account: str


def parse_notification(message: str | Mapping[str, Any]) -> AlarmNotification:
    """CloudWatch's JSON alarm message (the SNS ``Message``) -> :class:`AlarmNotification`."""
    data = json.loads(message) if isinstance(message, str) else dict(message)
    if "AlarmName" not in data or "NewStateValue" not in data:
        raise ValueError("not a CloudWatch alarm state change (AlarmName/NewStateValue missing)")
    return AlarmNotification(
        name=str(data["AlarmName"]),
        description=str(data.get("AlarmDescription") or ""),
        new_state=str(data["NewStateValue"]),
        old_state=str(data.get("OldStateValue") or ""),
        reason=str(data.get("NewStateReason") or ""),
        changed_at=str(data.get("StateChangeTime") or ""),
        region=str(data.get("Region") or ""),
        account=str(data.get("AWSAccountId") or ""),
    )


def logical_id(alarm_name: str, stack_name: str | None) -> str | None:
    """The template's logical id of an alarm CloudFormation named ``<stack>-<LogicalId>-<SUFFIX>``."""
    if stack_name:
        match = re.match(rf"^{re.escape(stack_name)}-(?P<id>[A-Za-z0-9]+)-[A-Za-z0-9]+$", alarm_name)
        if match:
            return match.group("id")
    for known in RUNBOOKS:  # explicitly named alarms: the logical id somewhere in the name
        if known in alarm_name:
            return known
    return None


def _when(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
    except ValueError:
        return html.escape(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def format_message(
    alarm: AlarmNotification, *, stage: str, stack_name: str | None, runbook_url: str | None = None
) -> str:
    """The chat message (Telegram HTML, every outside value escaped)."""
    icon, state = _STATES.get(alarm.new_state, ("⚪️", alarm.new_state))
    known = logical_id(alarm.name, stack_name)
    runbook = RUNBOOKS.get(known or "")
    title = runbook.title if runbook else html.escape(alarm.description or alarm.name)
    where = html.escape(stack_name or f"carsbot-{stage}")
    lines = [
        f"{icon} <b>{state}</b> · {where}",
        f"<b>{title}</b>" + (" — снова в норме." if alarm.new_state == "OK" else ""),
    ]
    if alarm.new_state != "OK":
        if runbook:
            lines.append("")
            lines.append("Что делать: " + runbook.action.replace("{stage}", html.escape(stage)))
        elif alarm.description:
            lines.append(html.escape(alarm.description))
    heading = runbook.heading if runbook else "Alarms"
    section = runbook.section if runbook else "alarms"
    if runbook_url:
        link = html.escape(f"{runbook_url.rstrip('/')}#{section}", quote=True)
        lines.append(f'Инструкция: <a href="{link}">{RUNBOOK_DOC} → «{html.escape(heading)}»</a>')
    else:
        lines.append(f"Инструкция: {RUNBOOK_DOC} → «{html.escape(heading)}»")
    reason = alarm.reason if len(alarm.reason) <= REASON_LIMIT else alarm.reason[:REASON_LIMIT] + "…"
    if reason:
        lines.append(f"Данные CloudWatch: <i>{html.escape(reason)}</i>")
    before = f" · было {html.escape(alarm.old_state)}" if alarm.old_state else ""
    lines.append(f"Время: {_when(alarm.changed_at)}{before} · тревога <code>{html.escape(alarm.name)}</code>")
    return "\n".join(lines)


class AlarmNotifier:
    """Sends formatted alarm messages to the admin chat through the Bot API."""

    def __init__(
        self,
        bot: Any,
        chat_id: str,
        *,
        stage: str,
        stack_name: str | None,
        runbook_url: str | None = None,
    ) -> None:
        if not str(chat_id).strip():
            raise ValueError("no admin chat for alarms (CARSBOT_ALARM_CHAT_ID)")
        self.bot = bot
        self.chat_id = chat_id
        self.stage = stage
        self.stack_name = stack_name
        self.runbook_url = runbook_url

    @classmethod
    def from_settings(cls, *, sleep: Callable[[float], None] = time.sleep) -> AlarmNotifier:
        from carsbot.adapters.telegram_bot import ChannelBot
        from carsbot.config import get_settings

        settings = get_settings()
        bot = ChannelBot.from_settings(settings, max_attempts=4, max_inline_wait=20.0, sleep=sleep)
        return cls(
            bot,
            settings.alarm_chat_id,
            stage=settings.stage,
            stack_name=settings.stack_name or None,
            runbook_url=settings.runbook_url or None,
        )

    def send(self, alarm: AlarmNotification) -> list[int]:
        text = format_message(
            alarm, stage=self.stage, stack_name=self.stack_name, runbook_url=self.runbook_url
        )
        return list(self.bot.send_text(self.chat_id, text).message_ids)

    def close(self) -> None:
        close = getattr(self.bot, "close", None)
        if callable(close):
            close()
