"""Extraction engines (application layer): the LLM engine and the factory that picks an engine.

The rules engine itself is pure domain code in ``carsbot.core.extraction``.
"""
