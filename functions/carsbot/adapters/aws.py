"""boto3 clients: the one factory every part of carsbot uses (functions, monitor, dev tools).

Endpoints come from botocore itself (``AWS_ENDPOINT_URL``), never from app code. Every client comes from
one shared boto3 session (each extra session costs ~7 MB and its own credential resolution), is created
once per service per process, and is safe to use from threads (the monitor's I/O pool); creating clients
is serialised because boto3 sessions are not thread-safe. ``client.cache_clear()`` (tests, the local
stack) forgets the clients *and* the session, so a changed environment is picked up.
"""

from __future__ import annotations

import os
import threading
from typing import Any

# Retries with client-side rate adaptation; the pool covers the monitor's I/O threads.
RETRIES: Any = {"max_attempts": 5, "mode": "adaptive"}
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
MAX_POOL_CONNECTIONS = 16


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-central-1"


class _Clients:
    """``client(service)``: a cached boto3 client of the shared session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    def session(self) -> Any:
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session()
        return self._session

    def __call__(self, service: str) -> Any:
        found = self._clients.get(service)
        if found is not None:
            return found
        from botocore.config import Config

        with self._lock:
            if service not in self._clients:
                config = Config(
                    retries=RETRIES,
                    connect_timeout=CONNECT_TIMEOUT,
                    read_timeout=READ_TIMEOUT,
                    max_pool_connections=MAX_POOL_CONNECTIONS,
                )
                self._clients[service] = self._session_locked().client(
                    service, region_name=region(), config=config
                )
            return self._clients[service]

    def cache_clear(self) -> None:
        """Forget every client and the session (the next call builds them from the environment again)."""
        with self._lock:
            self._clients.clear()
            self._session = None


client = _Clients()
"""``client("sqs")``, ``client("s3")``, ``client("dynamodb")``...: the process-wide boto3 clients."""


def session() -> Any:
    """The shared boto3 session (for the rare caller that needs one, e.g. a powertools provider)."""
    return client.session()
