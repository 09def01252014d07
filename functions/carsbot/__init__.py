"""carsbot: used-car listings from Telegram channels (shared package of the Lambdas and the monitor)."""

__version__ = "0.1.0"
