"""LLM engine benchmark: calls per post and tokens per call over a JSONL corpus, against the stand-in.

The engine runs exactly as in production (``auto`` with a key: rules prefilter, one structured-output call
per candidate, guard, reconcile) but talks to the local OpenAI-compatible stand-in, which reports
``usage`` from the prompt size (about four characters per token). The numbers are printed beside the old
deployment's baseline of four LLM calls per post.

    python -m carsbot_dev.bench_llm tests/data/corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

BASELINE_CALLS_PER_POST = 4.0
BENCH_KEY = "sk-test-bench"


def _texts(corpus_path: str | Path) -> list[str]:
    texts: list[str] = []
    with Path(corpus_path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{corpus_path}:{number}: not JSON ({exc})") from None
            text = record.get("text") if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise ValueError(f'{corpus_path}:{number}: no "text" string')
            texts.append(text)
    return texts


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0


def bench_llm(
    corpus_path: str | Path, *, engine: str = "auto", out: TextIO | None = sys.stdout
) -> dict[str, Any]:
    """Run the LLM engine over the corpus against a fresh stand-in; print and return the figures."""
    from carsbot.config import get_settings
    from carsbot.core.circuit import CircuitBreaker
    from carsbot.extraction.factory import build_extractor
    from carsbot_dev.local.openai_standin import OpenAIStandIn

    texts = _texts(corpus_path)
    with OpenAIStandIn(api_key=BENCH_KEY) as server:
        settings = get_settings().model_copy(
            update={"openai_base_url": server.base_url, "openai_timeout": 30.0}
        )
        extractor = build_extractor(
            engine, settings, key_provider=lambda: BENCH_KEY, breaker=CircuitBreaker(), sleep=lambda _: None
        )
        totals = {"prefiltered": 0, "llm_calls": 0, "input_tokens": 0, "output_tokens": 0, "fallbacks": 0}
        by_engine: dict[str, int] = {}
        started = time.perf_counter()
        for text in texts:
            result = extractor.extract(text)
            totals["prefiltered"] += int(result.prefiltered)
            totals["llm_calls"] += result.llm_calls
            totals["input_tokens"] += result.input_tokens
            totals["output_tokens"] += result.output_tokens
            totals["fallbacks"] += int(result.engine == "rules-fallback")
            by_engine[result.engine] = by_engine.get(result.engine, 0) + 1
        seconds = time.perf_counter() - started
        http_requests = len(server.completions)

    posts = len(texts)
    calls = totals["llm_calls"]
    candidates = posts - totals["prefiltered"]
    calls_per_post = _ratio(calls, posts)
    report: dict[str, Any] = {
        "engine": engine,
        "corpus": str(corpus_path),
        "posts": posts,
        "prefiltered": totals["prefiltered"],
        "candidates": candidates,
        "llm_calls": calls,
        "http_requests": http_requests,
        "calls_per_post": calls_per_post,
        "calls_per_candidate": _ratio(calls, candidates),
        "input_tokens": totals["input_tokens"],
        "output_tokens": totals["output_tokens"],
        "input_tokens_per_call": _ratio(totals["input_tokens"], calls),
        "output_tokens_per_call": _ratio(totals["output_tokens"], calls),
        "tokens_per_post": _ratio(totals["input_tokens"] + totals["output_tokens"], posts),
        "fallbacks": totals["fallbacks"],
        "results_by_engine": by_engine,
        "baseline_calls_per_post": BASELINE_CALLS_PER_POST,
        "calls_vs_baseline": _ratio(calls_per_post, BASELINE_CALLS_PER_POST),
        "seconds": round(seconds, 3),
        "posts_per_second": _ratio(posts, seconds),
    }
    if out is not None:
        print_report(report, out)
    return report


def print_report(report: dict[str, Any], out: TextIO = sys.stdout) -> None:
    fewer = (
        f"{report['baseline_calls_per_post'] / report['calls_per_post']:.1f}x fewer"
        if report["calls_per_post"]
        else "no calls"
    )
    print(
        f"llm engine ({report['engine']}, OpenAI stand-in) on {report['posts']} posts: "
        f"prefiltered={report['prefiltered']} candidates={report['candidates']} "
        f"llm_calls={report['llm_calls']} fallbacks={report['fallbacks']}",
        file=out,
    )
    r = report
    print(
        f"  calls/post {r['calls_per_post']:.2f} vs old deployment {r['baseline_calls_per_post']:.2f} "
        f"({fewer}); calls/candidate {r['calls_per_candidate']:.2f}",
        file=out,
    )
    print(
        f"  tokens/call: input {r['input_tokens_per_call']:.0f}, output {r['output_tokens_per_call']:.0f} "
        f"(usage reported by the stand-in, ~4 chars/token); tokens/post {r['tokens_per_post']:.0f}",
        file=out,
    )
    print(f"  {report['posts_per_second']:.1f} posts/s in {report['seconds']:.2f} s (local HTTP)", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m carsbot_dev.bench_llm", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "corpus", nargs="?", default="tests/data/corpus.jsonl", help="JSONL with a 'text' key"
    )
    parser.add_argument("--engine", choices=("auto", "llm"), default="auto")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    report = bench_llm(args.corpus, engine=args.engine, out=None if args.json else sys.stdout)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
