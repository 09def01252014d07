"""powertools logger, metrics and tracer shared by every entry point (service name ``carsbot``).

``add_metric`` is the one way code records a metric: it adds to the shared powertools ``Metrics``
(flushed by ``@metrics.log_metrics`` in Lambda handlers, by the monitor's own telemetry loop in ECS) and
never lets a metrics problem break the work being measured.

The tracer is created on first use (a handler's ``@tracer.capture_lambda_handler``): constructing a
powertools ``Tracer`` loads the X-Ray SDK (~0.5 s of imports and ~20 MB), even when it is disabled, and
the monitor, the CLI and the dev tools never trace.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "carsbot")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "carsbot")

# stderr: Lambda and ECS ship both streams to CloudWatch, and CLI output on stdout stays clean JSON Lines.
logger = Logger(service=SERVICE, stream=sys.stderr)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class _LazyTracer:
    """The shared powertools ``Tracer``, built on the first attribute access (disabled outside Lambda)."""

    def __init__(self) -> None:
        self._tracer: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            outside_lambda = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") is None
            self._tracer = Tracer(service=SERVICE, disabled=outside_lambda)
        return getattr(self._tracer, name)


tracer: Any = _LazyTracer()


def add_metric(name: str, value: float = 1, unit: str = "Count", *, target: Any = None) -> None:
    """Record ``value`` (a count by default) of metric ``name``; never raises.

    ``unit`` is a CloudWatch unit name (``"Count"``, ``"Seconds"``, ``"Milliseconds"``...) or a powertools
    ``MetricUnit``. ``target`` is the ``Metrics`` instance (default: the shared one; tests and the monitor
    may pass their own).
    """
    from aws_lambda_powertools.metrics import MetricUnit

    sink = metrics if target is None else target
    try:
        metric_unit = unit if isinstance(unit, MetricUnit) else MetricUnit(unit)
        sink.add_metric(name=name, unit=metric_unit, value=value)
    except Exception as exc:  # a metrics problem must never fail the work it measures
        logger.debug("metric dropped", extra={"metric": name, "error": repr(exc)})
