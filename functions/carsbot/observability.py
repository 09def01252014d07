"""powertools logger, metrics and tracer shared by every entry point (service name ``carsbot``)."""

from __future__ import annotations

import os
import sys

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "carsbot")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "carsbot")

# stderr: Lambda and ECS ship both streams to CloudWatch, and CLI output on stdout stays clean JSON Lines.
logger = Logger(service=SERVICE, stream=sys.stderr)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE, disabled=os.environ.get("AWS_LAMBDA_FUNCTION_NAME") is None)
