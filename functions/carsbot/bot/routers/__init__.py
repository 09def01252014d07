"""Routers by audience. ``ROUTER_FACTORIES`` (``carsbot.bot.dispatcher``) lists them in order."""
