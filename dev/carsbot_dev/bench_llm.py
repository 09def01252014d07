"""LLM engine benchmark: calls per post and tokens per call over a JSONL corpus, against the stand-in.

The engine runs exactly as in production (``auto`` with a key: rules prefilter, one structured-output call
per candidate, guard, reconcile) but talks to the local OpenAI-compatible stand-in, which reports
``usage`` from the prompt size (about four characters per token). The numbers are printed beside the old
deployment's baseline of four LLM calls per post, and the input tokens per call beside the previous
prompt (``listing-v1``: the longer instruction and the default pydantic schema with titles and field
descriptions), measured in the same run over the same posts.

    python -m carsbot_dev.bench_llm tests/data/corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import BaseModel, Field

from carsbot.adapters.llm_openai import LlmListing

BASELINE_CALLS_PER_POST = 4.0
BENCH_KEY = "sk-test-bench"

# The prompt and schema of listing-v1 (shipped before issue 13), kept to measure the saving against.
LISTING_V1_PROMPT = """\
You extract used-car sale listings from Russian Telegram channel posts.

Classify first:
- is_car_sale = true only when the post offers ONE specific used or new car for sale by its owner or a dealer.
- NOT a sale (is_car_sale = false): news, buy requests ("куплю", "ищу"), parts, tyres and wheels,
  services (repair, detailing, transport, selection), rentals and leasing, credit offers, giveaways
  and contests, posts saying the car is already sold ("продано", "продан"), teasers ("скоро в
  продаже"), questions, ads for several cars without details of one.
- reason: one short English phrase explaining the decision (e.g. "buy request", "car sale").

Then fill every field from the text only. When a value is not stated, use null (or an empty list).
Never guess, never infer from the phone code or the channel, never convert currencies.
- brand and model: as commonly written in Latin (e.g. "Toyota", "Camry"; "Лада" -> "Lada", "Granta").
- year: model year (4 digits).
- price: asking price in roubles as an integer ("1.35 млн" -> 1350000, "850к" -> 850000,
  "1 350 т.р." -> 1350000). market_price: only if the post states a market/average price ("рынок").
- mileage: kilometres as an integer ("98 т.км" -> 98000, "пробег 120" in thousands -> 120000).
- engine_volume: litres (e.g. 1.6). transmission: automatic (АКПП, автомат), manual (МКПП, механика),
  robot (робот, DSG, AMT), variator (вариатор, CVT). drive: fwd (передний), rwd (задний), awd (полный, 4WD).
- owners_count: owners by the registration document (ПТС). city: the city named in the post, nominative case.
- fuel: petrol, diesel, hybrid, electric, gas, or null. autoteka: the history/accident status as stated
  (e.g. "без ДТП", "чистая автотека", "1 ДТП").
- equipment: short Russian items of equipment listed in the post (e.g. "камера заднего вида").
- phones: seller phone numbers exactly as they appear in the text. usernames: Telegram usernames
  mentioned as contacts, without "@" or "t.me/".
- confidence: 0..1, how sure you are about is_car_sale.
- description: 50-100 words in Russian, a factual neutral summary of the car using ONLY facts stated in
  the post. No contacts, no phone numbers, no links, no usernames, no emojis, no advertising phrases, no
  invented details. null when is_car_sale is false.
"""


class _ListingV1Shape(BaseModel):
    """The fields of listing-v1 as its schema was sent (pydantic's default: titles, descriptions)."""

    is_car_sale: bool
    reason: str | None = None
    brand: str | None = None
    model: str | None = None
    year: int | None = None
    price: int | None = Field(default=None, description="RUB")
    market_price: int | None = Field(default=None, description="RUB, only if stated")
    mileage: int | None = Field(default=None, description="km")
    engine_volume: float | None = Field(default=None, description="litres")
    transmission: Literal["automatic", "manual", "robot", "variator"] | None = None
    drive: Literal["fwd", "rwd", "awd"] | None = None
    owners_count: int | None = None
    city: str | None = None
    fuel: str | None = None
    autoteka: str | None = None
    equipment: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    usernames: list[str] = Field(default_factory=list)
    confidence: float = Field(description="0..1")
    description: str | None = None


class ListingV1(LlmListing):
    """Parses like today's listing; sends listing-v1's schema."""

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        schema = _ListingV1Shape.model_json_schema(*args, **kwargs)
        schema.pop("description", None)  # listing-v1 had no model docstring
        schema["title"] = "LlmListing"
        return schema


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
    corpus_path: str | Path, *, engine: str = "auto", out: TextIO | None = sys.stdout, prompt: str = "current"
) -> dict[str, Any]:
    """Run the LLM engine over the corpus against a fresh stand-in; print and return the figures.

    ``prompt="listing-v1"`` sends the previous instruction and schema instead of today's; the report then
    holds only that run. With the default, the report also holds ``baseline_input_tokens_per_call``:
    listing-v1 over the same posts in the same run.
    """
    from carsbot.adapters.llm_openai import OpenAIListingClient
    from carsbot.config import get_settings
    from carsbot.core.circuit import CircuitBreaker
    from carsbot.extraction.factory import build_extractor
    from carsbot_dev.local.openai_standin import OpenAIStandIn

    texts = _texts(corpus_path)
    with OpenAIStandIn(api_key=BENCH_KEY) as server:
        settings = get_settings().model_copy(
            update={"openai_base_url": server.base_url, "openai_timeout": 30.0}
        )
        options: dict[str, Any] = {}
        if prompt == "listing-v1":
            options["client_factory"] = lambda key: OpenAIListingClient(
                api_key=key,
                model=settings.openai_model,
                base_url=settings.openai_base_url,
                timeout=settings.openai_timeout,
                sleep=lambda _: None,
                system_prompt=LISTING_V1_PROMPT,
                response_model=ListingV1,
            )
        extractor = build_extractor(
            engine,
            settings,
            key_provider=lambda: BENCH_KEY,
            breaker=CircuitBreaker(),
            sleep=lambda _: None,
            **options,
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
        "prompt": prompt,
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
    if prompt == "current":
        baseline = bench_llm(corpus_path, engine=engine, out=None, prompt="listing-v1")
        report["baseline_input_tokens_per_call"] = baseline["input_tokens_per_call"]
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
    before = (
        f" (listing-v1 prompt in the same run: {r['baseline_input_tokens_per_call']:.0f})"
        if "baseline_input_tokens_per_call" in r
        else ""
    )
    print(
        f"  tokens/call: input {r['input_tokens_per_call']:.0f}{before}, "
        f"output {r['output_tokens_per_call']:.0f} "
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
