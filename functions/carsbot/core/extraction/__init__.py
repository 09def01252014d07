"""Extraction: the ``Extractor`` protocol (``base``), the rules engine (``rules``) and its normalisers
(``normalize``). Modules are imported explicitly by their users; nothing heavy is imported here."""
