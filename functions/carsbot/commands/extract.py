"""``carsbot extract [FILE] [--engine rules|llm|auto]``: JSON Lines in, one listing object per line out.

Input: one JSON object per line with a ``"text"`` string (stdin when no FILE). Output, per input line:
``id`` then the ``ListingFields.cli_dict()`` fields in contract order, then any other input keys
echoed back (``"text"`` is not echoed). A bad line (not JSON, not an object, no string ``"text"``) or
an extractor failure on one post yields ``{"id": ..., "error": "line N: ..."}`` for that line and
processing continues. Blank lines are skipped. Exit code 0, or 2 when the input cannot be read or the
engine cannot be built.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

ENGINE_CHOICES = ("rules", "llm", "auto")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract listing fields from JSON Lines posts",
        description="Read JSON Lines posts ({'text': ...}) and write one listing JSON object per line.",
    )
    parser.add_argument("file", nargs="?", help="JSON Lines input (default: stdin)")
    parser.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default=None,
        help="extraction engine (default: CARSBOT_EXTRACT_ENGINE)",
    )
    parser.set_defaults(func=run)


def _lines(stream: IO[bytes] | IO[str]) -> Iterator[str]:
    for raw in stream:
        if isinstance(raw, bytes):
            yield raw.decode("utf-8", errors="replace")
        else:
            yield raw


def process_line(line: str, lineno: int, extract: Any) -> dict[str, Any] | None:
    """The output object for one input line (``None`` for a blank line)."""
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"line {lineno}: not valid JSON: {exc.msg}"}
    if not isinstance(obj, dict):
        return {"id": None, "error": f"line {lineno}: expected a JSON object, got {type(obj).__name__}"}
    post_id = obj.get("id")
    if "text" not in obj:
        return {"id": post_id, "error": f"line {lineno}: missing 'text'"}
    text = obj["text"]
    if not isinstance(text, str):
        return {"id": post_id, "error": f"line {lineno}: 'text' must be a string, got {type(text).__name__}"}
    try:
        result = extract(text)
    except Exception as exc:  # one post's failure never stops the batch
        return {"id": post_id, "error": f"line {lineno}: extraction failed: {type(exc).__name__}: {exc}"}
    out: dict[str, Any] = {"id": post_id}
    out.update(result.fields.cli_dict())
    for key, value in obj.items():
        if key not in out and key != "text":
            out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from carsbot.extraction.factory import build_extractor

    try:
        extractor = build_extractor(args.engine)
    except (ValueError, TypeError, ImportError) as exc:
        print(
            f"carsbot extract: cannot build the {args.engine or 'configured'} engine: {exc}", file=sys.stderr
        )
        return 2
    try:
        stream: IO[bytes] | IO[str]
        if args.file and args.file != "-":
            stream = open(args.file, "rb")  # noqa: SIM115 - closed below
        else:
            stream = getattr(sys.stdin, "buffer", sys.stdin)
    except OSError as exc:
        print(f"carsbot extract: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    try:
        for lineno, line in enumerate(_lines(stream), 1):
            obj = process_line(line, lineno, extractor.extract)
            if obj is not None:
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()
    except BrokenPipeError:  # the reader went away (e.g. "| head"): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"carsbot extract: read error: {exc}", file=sys.stderr)
        return 2
    finally:
        if stream is not sys.stdin and stream is not getattr(sys.stdin, "buffer", None):
            stream.close()
    return 0
