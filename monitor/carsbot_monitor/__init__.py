"""carsbot monitor: a Telethon user session that queues every source-channel post (see docs/monitor.md).

Entry points: ``carsbot monitor run`` (the container command), ``carsbot monitor healthcheck``,
``carsbot session login|check`` and ``carsbot channels add|list|pause|resume|remove``.
"""

from __future__ import annotations

__version__ = "0.1.0"
