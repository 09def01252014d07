"""What the demo and the live mode share: fake credentials for the stand-ins, quiet logging, the summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carsbot_dev.local.stack import LocalStack

DEMO_BOT_TOKEN = "123456:LOCAL-demo-token"  # noqa: S105 - fake, for the local Bot API stand-in only
DEMO_OPENAI_KEY = "sk-local-standin"  # fake, for the local OpenAI stand-in only
QUIET_ENV = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


@dataclass
class DemoSummary:
    posts: int
    listings: int
    rejected: int
    duplicates: int
    published: int
    failed: int
    seconds: float
    llm_calls: int = 0
    payments: int | None = None  # YooKassa/Stars payments made in the journey (docs/payments.md)
    credited: int | None = None

    def line(self) -> str:
        line = (
            f"summary: posts={self.posts} listings={self.listings} rejected={self.rejected} "
            f"duplicates={self.duplicates} published={self.published} failed={self.failed} "
            f"seconds={self.seconds:.2f}"
        )
        if self.payments is not None:
            line += f" payments={self.payments} credited={self.credited or 0}"
        return line


def dead_lettered(stack: LocalStack) -> int:
    """Messages in the dead-letter queues of the function-fed queues."""
    from carsbot.adapters.aws import client

    dead = 0
    for mapping in stack.mappings:
        queue_logical = next(lid for lid, url in stack.resources.items() if url == mapping.queue_url)
        dlq = stack.dlq_of(queue_logical)
        if dlq:
            attrs = client("sqs").get_queue_attributes(
                QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
            )
            dead += int(attrs["Attributes"]["ApproximateNumberOfMessages"])
    return dead


def quiet_env(verbose: bool) -> dict[str, str]:
    env = dict(QUIET_ENV)
    if verbose:
        env["POWERTOOLS_LOG_LEVEL"] = "INFO"
    return env
