"""Adapters: one module per external service. Only these import SDKs; the core never does."""
