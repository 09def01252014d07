"""Give moto's DynamoDB the isolation real DynamoDB has: one request at a time.

moto's ``transact_write_items`` checks and applies a transaction item by item and, when one fails,
restores a deep copy of the whole table taken before it started. Two concurrent requests on the threaded
moto server can therefore interleave: both see the same pending order, or a failed transaction restores
a copy that wipes the other one's committed write. Real DynamoDB serialises conflicting writes
(``TransactionConflict``), so concurrency tests against moto need that too: ``serialize_dynamodb()``
wraps moto's DynamoDB request handler in one lock (in this process, where ``ThreadedMotoServer`` runs).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()
_MARK = "_carsbot_serialized"


def serialize_dynamodb() -> None:
    """Idempotent: patch once per process."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, _MARK, False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    setattr(call_action, _MARK, True)
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
