"""Benchmarks, printed (never asserted): ``make bench`` runs ``python -m carsbot.bench``.

Rules extractor section: posts/s on one core over the labelled corpus (tests/data/corpus.jsonl) and the
bundled demo sample (carsbot/local/data/sample_posts.jsonl), each beside a baseline measured in the same
run — ``json.loads`` of the same JSON lines — and the ratio between the two.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "tests" / "data" / "corpus.jsonl"
SAMPLE = Path(__file__).resolve().parent / "local" / "data" / "sample_posts.jsonl"
TARGET_POSTS_PER_SECOND = 1000


@dataclass(frozen=True)
class Throughput:
    label: str
    posts: int
    rules_per_second: float
    baseline_per_second: float

    @property
    def ratio(self) -> float:
        return self.baseline_per_second / self.rules_per_second if self.rules_per_second else float("inf")

    def line(self) -> str:
        verdict = "ok" if self.rules_per_second >= TARGET_POSTS_PER_SECOND else "BELOW TARGET"
        return (
            f"rules extractor [{self.label}]: {self.posts} posts, "
            f"{self.rules_per_second:,.0f} posts/s on one core "
            f"(target >= {TARGET_POSTS_PER_SECOND}: {verdict}); "
            f"baseline json.loads {self.baseline_per_second:,.0f} lines/s; "
            f"json.loads is {self.ratio:,.1f}x faster"
        )


def pin_one_core() -> str:
    """Pin the process to one CPU where the OS allows it (Linux); the benchmark is single-threaded anyway."""
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if cpus:
            os.sched_setaffinity(0, {cpus[0]})
            return f"pinned to CPU {cpus[0]}"
    return "not pinned (no sched_setaffinity)"


def read_lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [line for line in handle if line.strip()]


def texts_of(lines: Sequence[str]) -> list[str]:
    texts = []
    for line in lines:
        obj = json.loads(line)
        text = obj.get("text") if isinstance(obj, dict) else None
        if isinstance(text, str):
            texts.append(text)
    return texts


def _rate(run_once: Callable[[], int], min_seconds: float) -> float:
    """Items/s of ``run_once`` (returning how many items it processed), repeated for >= min_seconds."""
    done = 0
    start = time.perf_counter()
    while True:
        done += run_once()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def bench_rules(lines: Sequence[str], label: str, *, min_seconds: float = 1.5) -> Throughput | None:
    """Rules-extractor throughput over the ``"text"`` of JSON ``lines``, beside ``json.loads`` of them."""
    from carsbot.core.extraction import rules

    texts = texts_of(lines)
    if not texts:
        return None
    rules.extract_rules("прогрев: Toyota Camry 2018, Москва")  # build the catalogue/city indexes once

    def run_rules() -> int:
        rules._analyse_cached.cache_clear()  # measure real work, not the prefilter/extract memo
        for text in texts:
            rules.extract_rules(text)
        return len(texts)

    def run_baseline() -> int:
        for line in lines:
            json.loads(line)
        return len(lines)

    return Throughput(label, len(texts), _rate(run_rules, min_seconds), _rate(run_baseline, min_seconds))


def rules_section(min_seconds: float = 1.5) -> list[str]:
    out = ["== rules extractor =="]
    for label, path in (("corpus", CORPUS), ("demo sample", SAMPLE)):
        if not path.exists():
            out.append(f"rules extractor [{label}]: skipped ({path} not found)")
            continue
        result = bench_rules(read_lines(path), label, min_seconds=min_seconds)
        out.append(result.line() if result else f"rules extractor [{label}]: skipped (no posts with text)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m carsbot.bench", description="carsbot benchmarks (printed)"
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="minimum measuring time per figure")
    args = parser.parse_args(argv)
    print(f"carsbot benchmarks: {pin_one_core()}")
    for line in rules_section(args.seconds):
        print(line, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
