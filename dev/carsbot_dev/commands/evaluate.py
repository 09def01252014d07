"""``carsbot eval FILE [--engine rules|llm|auto] [--check] [--min-f1 X] [--min-field NAME=X ...]
[--max-false-fill X] [--json] [--show-errors N]``: score an engine on a labelled JSON Lines corpus.

Prints classification precision/recall/F1, per-field accuracy where the label states the field, the
false-fill rate, LLM calls per post and tokens per call, and the rules prefilter's rejection rates.
``--check`` (or any explicit threshold) exits 1 when a threshold is missed and names each failure;
the defaults are issue 13's bar (F1 >= 0.97; price, year, phones, brand, model, mileage >= 0.95;
engine, gearbox, owners, city >= 0.92; false-fill <= 0.02; the prefilter rejects no labelled sale).
``--show-errors [N]`` lists the misses, each with the rule that produced the value and the words it
read (``ExtractionResult.trace``). Exit 2 when the corpus cannot be read or parsed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from carsbot.commands.extract import ENGINE_CHOICES


def _field_threshold(value: str) -> tuple[str, float]:
    name, sep, number = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    try:
        return name.strip(), float(number)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number in {value!r}") from exc


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score an extraction engine on a labelled corpus",
        description="Score an extraction engine on a labelled JSON Lines corpus (tests/data/corpus.jsonl).",
    )
    parser.add_argument("file", help="labelled JSON Lines corpus")
    parser.add_argument(
        "--engine", choices=ENGINE_CHOICES, default="rules", help="extraction engine (default: rules)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 below the issue-13 thresholds")
    parser.add_argument("--min-f1", type=float, default=None, help="minimum classification F1")
    parser.add_argument(
        "--min-field",
        type=_field_threshold,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="minimum accuracy for a field (repeatable)",
    )
    parser.add_argument("--max-false-fill", type=float, default=None, help="maximum false-fill rate")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--show-errors",
        type=int,
        nargs="?",
        const=100,
        default=0,
        metavar="N",
        help="list the first N mismatches (default 100), each with the rule that fired and the words it read",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from carsbot.core.contracts import ListingFields
    from carsbot.core.extraction.rules import prefilter
    from carsbot.extraction.factory import build_extractor
    from carsbot_dev import evaluation as ev

    try:
        with open(args.file, encoding="utf-8") as handle:
            posts = ev.parse_corpus(handle)
    except OSError as exc:
        print(f"carsbot eval: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (ev.CorpusError, UnicodeDecodeError) as exc:
        print(f"carsbot eval: {args.file}: {exc}", file=sys.stderr)
        return 2
    unknown = [name for name, _ in args.min_field if name not in ev.FIELDS]
    if unknown:
        print(
            f"carsbot eval: unknown field(s) {', '.join(unknown)}; known: {', '.join(ev.FIELDS)}",
            file=sys.stderr,
        )
        return 2
    try:
        extractor = build_extractor(args.engine)
    except (ValueError, TypeError, ImportError) as exc:
        print(f"carsbot eval: cannot build the {args.engine} engine: {exc}", file=sys.stderr)
        return 2

    def extract(text: str) -> Any:
        try:
            return extractor.extract(text)
        except Exception as exc:  # an engine crash on one post scores as a miss, it does not stop the run
            from carsbot.core.extraction.base import ExtractionResult

            return ExtractionResult(
                fields=ListingFields(is_car_sale=False, reason="error"), engine="error", notes=[repr(exc)]
            )

    report = ev.run_evaluation(posts, extract)
    rates = ev.prefilter_rates(posts, prefilter)

    explicit = args.min_f1 is not None or args.min_field or args.max_false_fill is not None
    failures: list[str] = []
    if args.check or explicit:
        defaults = (
            ev.Thresholds() if args.check else ev.Thresholds(min_f1=None, min_fields={}, max_false_fill=None)
        )
        min_fields = dict(defaults.min_fields)
        min_fields.update(dict(args.min_field))
        thresholds = ev.Thresholds(
            min_f1=args.min_f1 if args.min_f1 is not None else defaults.min_f1,
            min_fields=min_fields,
            max_false_fill=args.max_false_fill
            if args.max_false_fill is not None
            else defaults.max_false_fill,
        )
        failures = ev.check_thresholds(report, thresholds)
        if args.check and rates.positives_rejected:
            ids = ", ".join(post_id for post_id, _ in rates.rejected_positives)
            failures.append(f"the prefilter rejects {rates.positives_rejected} labelled sale(s): {ids}")

    if args.json:
        payload = report.as_dict()
        if not args.show_errors:
            payload.pop("mismatches", None)
        else:
            payload["mismatches"] = payload["mismatches"][: args.show_errors]
        payload["engine"] = args.engine
        payload["prefilter"] = {
            "negatives": rates.negatives,
            "negatives_rejected": rates.negatives_rejected,
            "negative_rejection": round(rates.negative_rejection, 4),
            "positives": rates.positives,
            "positives_rejected": rates.positives_rejected,
            "positive_rejection": round(rates.positive_rejection, 4),
            "rejected_positives": [{"id": i, "rule": r} for i, r in rates.rejected_positives],
        }
        payload["check"] = {"passed": not failures, "failures": failures}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(f"engine: {args.engine}  corpus: {args.file}")
        print(ev.format_report(report, rates=rates, show_mismatches=args.show_errors))
        if args.check or explicit:
            if failures:
                print("check: FAILED")
                for failure in failures:
                    print(f"  - {failure}")
            else:
                print("check: passed")
    return 1 if failures else 0
