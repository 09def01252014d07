"""Cost model inputs, measured: what one post costs in AWS requests, Lambda time, log bytes and LLM tokens.

Runs the demo pipeline (bundled sample, LLM engine against the local OpenAI-compatible stand-in) on the
local stack and counts, per post, every AWS API call the functions make (botocore, which boto3 and
pynamodb both use), the functions' handler time and the bytes they log at INFO; the LLM engine's calls
and tokens per post come from ``bench_llm`` on the labelled corpus. Then it prices a month at 20, 100 and
500 channels (1,000 / 5,000 / 25,000 posts a day, 10,000 subscribers) with the list prices below.
docs/cost.md explains every line; ``make bench`` prints this.

Handler time is measured on this machine, not on Lambda's arm64 cores: it is the input the model uses,
printed beside the bare local SQS round trip of the same run as a baseline.

    python -m carsbot_dev.bench_cost
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "corpus.jsonl"
DAYS = 30.4

# eu-central-1 list prices (USD), on-demand, checked 2025; one table so docs/cost.md can cite it.
PRICE = {
    "lambda_gb_second_arm": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "fargate_vcpu_hour_arm": 0.03725,
    "fargate_gb_hour_arm": 0.00409,
    "public_ipv4_hour": 0.005,
    "ddb_write_unit": 0.7625 / 1e6,  # on-demand write request unit
    "ddb_read_unit": 0.1525 / 1e6,  # on-demand read request unit
    "ddb_storage_gb_month": 0.306,
    "ddb_pitr_gb_month": 0.2448,
    "sqs_request": 0.40 / 1e6,
    "s3_put": 0.0054 / 1000,
    "s3_get": 0.00043 / 1000,
    "s3_storage_gb_month": 0.0245,
    "secret_month": 0.40,
    "secrets_api_call": 0.05 / 10_000,
    "logs_ingest_gb": 0.63,
    "logs_storage_gb_month": 0.0324,
    "custom_metric_month": 0.30,
    "alarm_month": 0.10,
    "dashboard_month": 3.00,
    "llm_input_token": 0.15 / 1e6,  # gpt-4o-mini
    "llm_output_token": 0.60 / 1e6,
}
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
READ_UNITS, WRITE_UNITS = 1.0, 2.0  # request units per call: items up to 4 KB read, 1-2 KB written
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
MEMORY_MB = {"ExtractFunction": 512, "PublishFunction": 512, "BotFunction": 512, "AlertsFunction": 512}


@dataclass
class PostFigures:
    """Per post of the sample (the functions' share only; the monitor's is added in the model)."""

    posts: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # "dynamodb:PutItem" -> count
    handler_seconds: dict[str, float] = field(default_factory=dict)  # function logical id -> seconds
    invocations: Counter[str] = field(default_factory=Counter)
    cold_start_seconds: dict[str, float] = field(default_factory=dict)
    log_bytes: int = 0
    baseline_ms: float = 0.0

    def per_post(self, key: str) -> float:
        return self.calls[key] / max(1, self.posts)

    def of_service(self, service: str, operations: set[str] | None = None) -> float:
        """API calls per post to ``service`` (only ``operations`` when given)."""
        total = 0
        for key, count in self.calls.items():
            name, operation = key.split(":", 1)
            if name == service and (operations is None or operation in operations):
                total += count
        return total / max(1, self.posts)


@contextmanager
def _counting(figures: PostFigures) -> Iterator[None]:
    """Count botocore API calls made inside function invocations; time the handlers."""
    from botocore.client import BaseClient

    from carsbot_dev.local.runner import LocalLambdaRunner

    inside = {"function": ""}
    original_call = BaseClient._make_api_call  # type: ignore[attr-defined]
    original_invoke = LocalLambdaRunner.invoke

    def counted_call(self: Any, operation: str, params: Any) -> Any:
        if inside["function"]:
            figures.calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return original_call(self, operation, params)

    def timed_invoke(self: Any, logical_id: str, event: Any) -> Any:
        inside["function"] = logical_id
        started = time.perf_counter()
        try:
            return original_invoke(self, logical_id, event)
        finally:
            elapsed = time.perf_counter() - started
            if figures.invocations[logical_id]:  # the first one is the cold start (imports): not per post
                figures.handler_seconds[logical_id] = figures.handler_seconds.get(logical_id, 0.0) + elapsed
            else:
                figures.cold_start_seconds[logical_id] = elapsed
            figures.invocations[logical_id] += 1
            inside["function"] = ""

    BaseClient._make_api_call = counted_call  # type: ignore[attr-defined]
    LocalLambdaRunner.invoke = timed_invoke  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original_call  # type: ignore[attr-defined]
        LocalLambdaRunner.invoke = original_invoke  # type: ignore[method-assign]


class _LogBytes(logging.Handler):
    def __init__(self, figures: PostFigures) -> None:
        super().__init__(level=logging.INFO)
        self.figures = figures

    def emit(self, record: logging.LogRecord) -> None:
        from carsbot.observability import logger

        self.figures.log_bytes += len(logger.registered_formatter.format(record)) + 1


def measure_pipeline() -> PostFigures:
    """The demo pipeline (LLM stand-in) with every function-side AWS call counted."""
    from carsbot.observability import logger
    from carsbot_dev.commands.demo import run_demo

    figures = PostFigures()
    handler = _LogBytes(figures)
    stdlib_logger = logging.getLogger(logger.name)
    previous_level, own_handlers = stdlib_logger.level, list(stdlib_logger.handlers)
    with _counting(figures):
        for own in own_handlers:  # measured, not printed: the functions log at INFO (verbose) into ours
            stdlib_logger.removeHandler(own)
        stdlib_logger.addHandler(handler)
        try:
            summary, _feed = run_demo(llm_standin=True, verbose=True)
        finally:
            stdlib_logger.removeHandler(handler)
            for own in own_handlers:
                stdlib_logger.addHandler(own)
            stdlib_logger.setLevel(previous_level)
    figures.posts = summary.posts
    return figures


def measure_baseline(posts: int = 200) -> float:
    """ms for one bare SQS send + receive + delete on the local stack (same machine, same run)."""
    from carsbot.adapters.aws import client
    from carsbot.config import get_settings
    from carsbot_dev.local.demo_support import QUIET_ENV
    from carsbot_dev.local.stack import local_aws

    with local_aws(extra_env=QUIET_ENV):
        sqs, url = client("sqs"), get_settings().posts_queue_url
        started = time.perf_counter()
        for index in range(posts):
            sqs.send_message(QueueUrl=url, MessageBody=f'{{"n": {index}}}')
        moved = 0
        while moved < posts:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            for message in got:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            moved += len(got)
        return (time.perf_counter() - started) * 1000 / posts


# ---------------------------------------------------------------------------------------------- model

# Assumptions that no benchmark measures (docs/cost.md "Assumptions").
SUBSCRIBERS = 10_000
BOT_UPDATES_PER_SUBSCRIBER_DAY = 2.0  # /start, deep links, menus
ALERTS_PER_LISTING = 3.0  # saved-search matches DMed per published listing
LISTING_SHARE = 0.55  # listings per post (the sample: 28 of 49 posts)
MEDIA_PER_POST = 1.5  # photos stored per post (S3 PUT by the monitor, GET by publish)
MEDIA_MB = 0.25
BOT_HANDLER_MS = 60.0  # bot webhook per update (warm, SnapStart)
ALERT_HANDLER_MS = 40.0
BOT_DDB_READS, BOT_DDB_WRITES = 3.0, 1.0  # per bot update
ALERT_DDB_READS = 2.0
SECRETS = 8
RETENTION_DAYS = 30  # logs and media
CUSTOM_METRICS = 60  # metric name x service dimension pairs
ALARMS = 25


def monthly_costs(figures: PostFigures, llm: dict[str, Any], posts_per_day: int) -> dict[str, float]:
    posts = posts_per_day * DAYS
    listings = posts * LISTING_SHARE
    bot_updates = SUBSCRIBERS * BOT_UPDATES_PER_SUBSCRIBER_DAY * DAYS
    alerts = listings * ALERTS_PER_LISTING
    per_post_gb_s = sum(
        seconds
        * figures.invocations[fn]
        / max(1, figures.invocations[fn] - 1)
        / max(1, figures.posts)
        * MEMORY_MB.get(fn, 512)
        / 1024
        for fn, seconds in figures.handler_seconds.items()
    )
    invocations_per_post = sum(figures.invocations.values()) / max(1, figures.posts)
    gb_s = (
        posts * per_post_gb_s
        + bot_updates * BOT_HANDLER_MS / 1000 * 0.5
        + alerts * ALERT_HANDLER_MS / 1000 * 0.5
    )
    lambda_cost = (
        gb_s * PRICE["lambda_gb_second_arm"]
        + (posts * invocations_per_post + bot_updates + alerts) * PRICE["lambda_request"]
    )
    hours = 24 * DAYS
    fargate = hours * (0.25 * PRICE["fargate_vcpu_hour_arm"] + 0.5 * PRICE["fargate_gb_hour_arm"])
    fargate += hours * PRICE["public_ipv4_hour"]
    reads = figures.of_service("dynamodb", READS)  # per post, functions
    writes = figures.of_service("dynamodb", WRITES) + 1  # + the monitor's checkpoint update
    ddb = posts * (
        reads * READ_UNITS * PRICE["ddb_read_unit"] + writes * WRITE_UNITS * PRICE["ddb_write_unit"]
    )
    ddb += (bot_updates * BOT_DDB_READS + alerts * ALERT_DDB_READS) * PRICE["ddb_read_unit"]
    ddb += bot_updates * BOT_DDB_WRITES * PRICE["ddb_write_unit"]
    table_gb = posts * 90 * 4 / 1e6  # ~4 KB per post + listing kept ~90 days
    ddb += table_gb * (PRICE["ddb_storage_gb_month"] + PRICE["ddb_pitr_gb_month"])
    sqs_requests = figures.of_service("sqs") + 1  # + the monitor's send
    sqs = (posts * sqs_requests + alerts * 2) * PRICE["sqs_request"]
    s3 = posts * MEDIA_PER_POST * (PRICE["s3_put"] + PRICE["s3_get"] * LISTING_SHARE)
    s3 += posts_per_day * RETENTION_DAYS * MEDIA_PER_POST * MEDIA_MB / 1024 * PRICE["s3_storage_gb_month"]
    secrets = (
        SECRETS * PRICE["secret_month"]
        + posts * figures.of_service("secretsmanager") * PRICE["secrets_api_call"]
    )
    log_gb = (posts * figures.log_bytes / max(1, figures.posts) + posts * invocations_per_post * 1500) / 1e9
    cloudwatch = log_gb * (PRICE["logs_ingest_gb"] + PRICE["logs_storage_gb_month"])
    cloudwatch += CUSTOM_METRICS * PRICE["custom_metric_month"] + ALARMS * PRICE["alarm_month"]
    cloudwatch += PRICE["dashboard_month"]
    llm_cost = posts * (
        llm["calls_per_post"] * llm["input_tokens_per_call"] * PRICE["llm_input_token"]
        + llm["calls_per_post"] * llm["output_tokens_per_call"] * PRICE["llm_output_token"]
    )
    return {
        "Fargate monitor (0.25 vCPU, 0.5 GB, arm64, public IPv4)": fargate,
        "Lambda (all functions)": lambda_cost,
        "DynamoDB on-demand (+ storage, PITR)": ddb,
        "SQS": sqs,
        "S3 media": s3,
        "Secrets Manager": secrets,
        "CloudWatch (logs, metrics, alarms, dashboard)": cloudwatch,
        "LLM tokens (gpt-4o-mini)": llm_cost,
    }


def report_lines(figures: PostFigures, llm: dict[str, Any]) -> list[str]:
    n = max(1, figures.posts)
    lines = ["== cost inputs per post (measured; docs/cost.md) =="]
    for fn in sorted(figures.invocations):
        warm = max(1, figures.invocations[fn] - 1)
        per_post = figures.handler_seconds.get(fn, 0.0) * figures.invocations[fn] / warm
        lines.append(
            f"{fn}: {per_post * 1000 / n:.1f} ms warm handler time/post, "
            f"{figures.invocations[fn] / n:.2f} invocations/post, "
            f"cold start {figures.cold_start_seconds.get(fn, 0.0):.1f} s (local machine)"
        )
    lines.append(
        f"baseline: bare local SQS send+receive+delete {figures.baseline_ms:.1f} ms/message (same run)"
    )
    reads, writes = figures.of_service("dynamodb", READS), figures.of_service("dynamodb", WRITES)
    lines.append(
        f"DynamoDB: {reads:.2f} reads + {writes:.2f} writes/post; "
        f"SQS {figures.of_service('sqs'):.2f} requests/post; S3 {figures.of_service('s3'):.2f}; "
        f"Secrets Manager {figures.of_service('secretsmanager'):.3f} calls/post (functions only)"
    )
    lines.append(f"logs at INFO: {figures.log_bytes / n:.0f} bytes/post")
    lines.append(
        f"LLM: {llm['calls_per_post']:.2f} calls/post, {llm['input_tokens_per_call']:.0f} input + "
        f"{llm['output_tokens_per_call']:.0f} output tokens/call (corpus, stand-in usage)"
    )
    lines.append("== monthly cost (USD, eu-central-1 list prices) ==")
    scales = {20: 1_000, 100: 5_000, 500: 25_000}
    tables = {channels: monthly_costs(figures, llm, per_day) for channels, per_day in scales.items()}
    header = f"{'component':<52}" + "".join(f"{f'{c} ch':>10}" for c in scales)
    lines.append(header)
    for component in tables[20]:
        lines.append(f"{component:<52}" + "".join(f"{tables[c][component]:>10.2f}" for c in scales))
    lines.append(f"{'total':<52}" + "".join(f"{sum(tables[c].values()):>10.2f}" for c in scales))
    return lines


def main(argv: list[str] | None = None) -> int:
    from carsbot_dev.bench_llm import bench_llm

    figures = measure_pipeline()
    figures.baseline_ms = measure_baseline()
    llm = bench_llm(CORPUS, out=None)
    for line in report_lines(figures, llm):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
