"""Benchmarks, printed (never asserted): ``make bench`` runs ``python -m carsbot_dev.bench``.

Rules extractor section: posts/s on one core over the labelled corpus (tests/data/corpus.jsonl) and the
bundled demo sample (carsbot_dev/local/data/sample_posts.jsonl), each beside a baseline measured in the same
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

    def run_rules() -> int:
        rules.clear_caches()  # measure real work: no post, token or phone is remembered between passes
        for text in texts:
            rules.extract_rules(text)
        return len(texts)

    run_rules()  # one pass untimed: the catalogue and city indexes, and rapidfuzz (imported on first use)

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


def bench_demo_section() -> list[str]:
    """The demo's wall time per post, beside the bare local-AWS cost of moving the same posts (send,
    receive, delete on the local posts queue) measured in the same run."""
    import time

    from carsbot_dev.commands.demo import run_demo
    from carsbot_dev.local.demo_support import QUIET_ENV

    summary, _feed = run_demo()
    per_post = summary.seconds / max(1, summary.posts)

    from carsbot.adapters.aws import client
    from carsbot.config import get_settings
    from carsbot_dev.local.replay import load_posts
    from carsbot_dev.local.stack import local_aws

    posts = load_posts()
    with local_aws(extra_env=QUIET_ENV):
        sqs, url = client("sqs"), get_settings().posts_queue_url
        started = time.perf_counter()
        for post in posts:
            sqs.send_message(QueueUrl=url, MessageBody=post.model_dump_json())
        moved = 0
        while moved < len(posts):
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            for message in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            moved += len(got)
        baseline = (time.perf_counter() - started) / len(posts)
    return [
        "== demo (whole local pipeline, bundled sample) ==",
        summary.line(),
        f"demo: {per_post * 1000:.1f} ms/post wall time (stack set-up included); "
        f"baseline local SQS send+receive+delete {baseline * 1000:.1f} ms/post; "
        f"the pipeline costs {per_post / baseline:.1f}x the bare queue round trip",
    ]


def llm_section() -> list[str]:
    from carsbot_dev.bench_llm import bench_llm

    if not CORPUS.exists():
        return ["llm engine: skipped (corpus not found)"]
    report = bench_llm(CORPUS, out=None)
    return [
        "== LLM engine (auto, against the local OpenAI stand-in) ==",
        f"llm engine [corpus]: {report['calls_per_post']:.2f} calls/post "
        f"({report['calls_per_candidate']:.2f} per candidate), "
        f"{report['input_tokens_per_call']:.0f} input (listing-v1 prompt "
        f"{report['baseline_input_tokens_per_call']:.0f}; target <= 700) + "
        f"{report['output_tokens_per_call']:.0f} output tokens/call; "
        f"baseline (old deployment) {report['baseline_calls_per_post']:.0f} calls/post: "
        f"{report['baseline_calls_per_post'] / max(report['calls_per_post'], 1e-9):.1f}x fewer calls",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m carsbot_dev.bench", description="carsbot benchmarks (printed)"
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="minimum measuring time per figure")
    parser.add_argument(
        "--only", choices=("rules", "llm", "demo"), action="append", help="run only these sections"
    )
    args = parser.parse_args(argv)
    sections = args.only or ["rules", "llm", "demo"]
    from carsbot_dev.local.demo_support import QUIET_ENV

    os.environ.update(QUIET_ENV)
    print(f"carsbot benchmarks: {pin_one_core()}")
    if "rules" in sections:
        for line in rules_section(args.seconds):
            print(line, flush=True)
    if "llm" in sections:
        for line in llm_section():
            print(line, flush=True)
    if "demo" in sections:
        for line in bench_demo_section():
            print(line, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
