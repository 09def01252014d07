"""Saved-search alerts: matching a published listing to saved searches, and the rate-limited fan-out
of notices (``functions/alerts/app.py``). See docs/bot.md."""
