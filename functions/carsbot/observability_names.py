"""The metric names that dashboards, alarms and ``carsbot status`` read (namespace ``carsbot``).

The code emits metrics through powertools (``carsbot.observability.add_metric`` in the functions,
``carsbot_monitor.health.Telemetry`` in the monitor), as CloudWatch EMF with one dimension ``service``:
``carsbot`` for every Lambda function (``POWERTOOLS_SERVICE_NAME`` in template.yaml Globals) and
``carsbot-monitor`` for the ECS task. This module only *names* what is read; a test
(tests/ops/test_dashboard.py) checks that every name here is emitted somewhere in the code and that
every dashboard widget and alarm on the ``carsbot`` namespace reads a name from here.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "carsbot"
FUNCTIONS = "carsbot"  # service dimension of the Lambda functions
MONITOR = "carsbot-monitor"  # service dimension of the monitor task


@dataclass(frozen=True)
class Metric:
    name: str
    service: str = FUNCTIONS
    label: str = ""

    @property
    def dimensions(self) -> dict[str, str]:
        return {"service": self.service}


# ---- monitor
MONITOR_HEARTBEAT = Metric("MonitorHeartbeat", MONITOR, "monitor heartbeats")
CHANNELS_ACTIVE = Metric("ChannelsActive", MONITOR, "channels connected")
POSTS_QUEUED = Metric("PostsQueued", MONITOR, "posts in")
SESSION_INVALID = Metric("SessionInvalid", MONITOR, "session rejected")
SESSION_ROTATION_FAILED = Metric("SessionRotationFailed", MONITOR, "session rotation failed")
FLOOD_WAITS = Metric("FloodWaits", MONITOR, "FloodWaits")
FLOOD_WAIT_SECONDS = Metric("FloodWaitSeconds", MONITOR, "FloodWait seconds")
CHANNEL_JOIN_FAILED = Metric("ChannelJoinFailed", MONITOR, "channel joins failed")
QUEUE_SEND_FAILED = Metric("QueueSendFailed", MONITOR, "queue sends failed")

# ---- extraction
LISTINGS = Metric("Listings", label="listings")
REJECTED = Metric("Rejected", label="rejected")
REJECTED_REASON_PREFIX = "Rejected_"  # + the reason's first word: Rejected_not_sale, Rejected_filter...
# Reasons the rules engine and the filters give most (core/extraction/rules.py, core/filters.py).
REJECTED_REASONS = (
    "no_car",
    "not_car",
    "buy_request",
    "parts",
    "tyres",
    "service",
    "rental",
    "news",
    "sold",
    "filter",
)
DUPLICATES = Metric("Duplicates", label="duplicates")
LLM_CALLS = Metric("LLMCalls", label="LLM calls")
LLM_FALLBACKS = Metric("LLMFallbacks", label="LLM fallbacks")
LLM_INPUT_TOKENS = Metric("LLMInputTokens", label="LLM input tokens")
LLM_OUTPUT_TOKENS = Metric("LLMOutputTokens", label="LLM output tokens")

# ---- publishing
PUBLISHED = Metric("ListingsPublished", label="published")
PUBLISH_LATENCY = Metric("PublishLatency", label="post date -> published (s)")
PUBLISH_FAILED = Metric("PublishFailed", label="publish failures")
PUBLISH_RATE_LIMITED = Metric("PublishRateLimited", label="publish 429s")

# ---- bot, alerts, payments, sheets (bot updates = the bot function's AWS/Lambda Invocations)
BOT_HANDLER_ERRORS = Metric("BotHandlerErrors", label="bot handler errors")
WEBHOOK_REJECTED = Metric("WebhookRejected", label="webhook requests rejected")
CONTACT_REQUESTS = Metric("ContactRequests", label="contact cards opened")
CONTACT_PAYWALL = Metric("ContactPaywallShown", label="paywalls shown")
CONTACT_CAP = Metric("ContactDailyCapReached", label="daily contact cap reached")
ALERTS_QUEUED = Metric("AlertsQueued", label="alerts queued")
NOTICES_SENT = Metric("NoticesSent", label="alerts/notices sent")
NOTICES_THROTTLED = Metric("NoticesThrottled", label="alerts/notices 429s")
NOTICES_FAILED = Metric("NoticesFailed", label="alerts/notices failed")
PAYMENT_CREDITED = Metric("PaymentCredited", label="payments")
REVENUE_RUB = Metric("RevenueRub", label="revenue (RUB)")
PAYMENT_CALLBACK_REJECTED = Metric("PaymentCallbackRejected", label="payment callbacks rejected")
RENEWAL_FAILED = Metric("RenewalFailed", label="renewals failed")
SHEETS_SYNC_FAILED = Metric("SheetsSyncFailed", label="sheets sync failures")

TODAY = (
    POSTS_QUEUED,
    LISTINGS,
    REJECTED,
    DUPLICATES,
    PUBLISHED,
    LLM_CALLS,
    LLM_FALLBACKS,
    CONTACT_REQUESTS,
    PAYMENT_CREDITED,
)
"""The day's totals ``carsbot status`` prints."""
