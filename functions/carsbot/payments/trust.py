"""Is a notification's source YooKassa? Its source IP must be in YooKassa's published networks.

The networks come from configuration (``CARSBOT_YOOKASSA_TRUSTED_NETWORKS``; default: the official list);
local mode and tests give their own (``127.0.0.1/32``). The SDK's ``SecurityHelper`` is not used: its
list is fixed and it rejects loopback, so local mode could not work through it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


class TrustedNetworks:
    def __init__(self, networks: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip())

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str) or not address:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.networks)
