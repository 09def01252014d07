"""Payments and the subscription lifecycle (docs/payments.md): YooKassa and Telegram Stars orders,
notification trust checks, idempotent crediting, refunds, auto-renewal, expiry and reminders."""
