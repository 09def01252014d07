"""The Telegram bot (PRODUCT.md §20-24): routers by audience, middlewares, i18n, FSM storage, webhook.

``carsbot.bot.dispatcher.build_dispatcher`` builds the one Dispatcher; ``carsbot.bot.webhook`` feeds it
updates from API Gateway (``functions/bot/app.py``), ``carsbot demo --serve`` and ``carsbot bot poll``.
"""
