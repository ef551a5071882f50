# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which receive connector answers an SMTP connection, as Exchange selects it.

Microsoft Learn, "Receive connectors" (https://learn.microsoft.com/exchange/mail-flow/connectors/receive-connectors),
sections "Receive connector local address bindings" and "Receive connector remote addresses": a receive connector
listens on its bindings (local IP address and TCP port; ``0.0.0.0`` and ``[::]`` are every local address) for
connections from its RemoteIPRanges; several connectors may share a binding when their remote ranges differ, and
"when remote IP address ranges overlap, the remote IP address range that has the most specific match to the
connecting server's IP address is used" (the page's example: 192.168.1.75 beats 192.168.1.0-192.168.1.255 beats
0.0.0.0-255.255.255.255). A binding to the local address itself is more specific than one to every address, and
is weighed first.

RemoteIPRanges entries come in Exchange's IPRange forms (Set-ReceiveConnector, RemoteIPRanges): a single address
(``192.168.1.10``), a CIDR range (``192.168.1.0/24``) or a Lo-Hi range (``192.168.1.10-192.168.1.20``), IPv4 or
IPv6. Pure Python; the lab's SMTP listener and the probe target use the same rules.
"""

from __future__ import annotations

import ipaddress

__all__ = [
    "ALL_ADDRESSES",
    "MICROSOFT_365_RANGES",
    "MICROSOFT_365_SENDERS",
    "parse_binding",
    "parse_ip_range",
    "select_connector",
]

# What Exchange sets when no RemoteIPRanges is given: the whole IPv4 and IPv6 space.
ALL_ADDRESSES = ("0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")

# Exchange Online's SMTP endpoints (*.mail.protection.outlook.com, TCP 25): the addresses Microsoft 365 delivers
# to an on-premises server from. Microsoft 365 "URLs and IP address ranges", worldwide, Exchange Online, ID 9
# (https://learn.microsoft.com/microsoft-365/enterprise/urls-and-ip-address-ranges), also published in
# spf.protection.outlook.com. One address of each range stands for the range: a connector whose RemoteIPRanges
# covers part of the ranges only is seen by some of Microsoft 365's senders and not by others.
MICROSOFT_365_RANGES = (
    "40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17", "2a01:111:f400::/48", "2a01:111:f403::/48",
)
MICROSOFT_365_SENDERS = tuple(str(ipaddress.ip_network(r)[1]) for r in MICROSOFT_365_RANGES)

_USAGE = ("a single address (192.168.1.10), a CIDR range (192.168.1.0/24) or a Lo-Hi range"
          " (192.168.1.10-192.168.1.20), IPv4 or IPv6")


def parse_ip_range(text):
    """``(first, last)`` addresses of an IPRange in one of Exchange's forms; ValueError naming the forms."""
    value = str(text).strip()
    try:
        if "/" in value:
            network = ipaddress.ip_network(value, strict=False)
            return network[0], network[-1]
        if "-" in value:
            low, high = (ipaddress.ip_address(part.strip()) for part in value.split("-", 1))
            if low.version != high.version:
                raise ValueError("mixes IPv4 and IPv6")
            if int(high) < int(low):
                raise ValueError("its upper bound is below its lower bound")
            return low, high
        address = ipaddress.ip_address(value)
        return address, address
    except ValueError as exc:
        raise ValueError("%r is not an IP range Exchange accepts (%s); expected %s" % (value, exc, _USAGE)) from None


def parse_binding(text):
    """``(address, port)`` of a binding as Exchange prints it: ``0.0.0.0:25`` or ``[::]:25``."""
    value = str(text).strip()
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("no port")
        return ipaddress.ip_address(host), int(port)
    except ValueError:
        raise ValueError("%r is not a binding (\"IPv4:port\" such as 0.0.0.0:25, or \"[IPv6]:port\" such as [::]:25)"
                         % (value,)) from None


def _plain(address):
    """An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 peer) as the IPv4 address it is."""
    address = ipaddress.ip_address(address)
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _binding_rank(bindings, local, port, family):
    """0: bound to the local address itself, 1: to every address of its family, None: does not listen there.

    ``local`` None: the server's own address is not known (the controller's view); every binding of the
    family on the port counts as listening on it.
    """
    best = None
    for binding in bindings:
        try:
            address, bound_port = parse_binding(binding)
        except ValueError:
            continue
        if bound_port != port or address.version != family:
            continue
        if local is None:
            rank = 1
        else:
            rank = 0 if address == local else (1 if address.is_unspecified else None)
        if rank is not None and (best is None or rank < best):
            best = rank
    return best


def _range_size(ranges, remote):
    """How many addresses the narrowest of ``ranges`` that holds ``remote`` spans; None when none holds it."""
    best = None
    for entry in ranges:
        try:
            low, high = parse_ip_range(entry)
        except ValueError:
            continue
        if low.version == remote.version and int(low) <= int(remote) <= int(high):
            size = int(high) - int(low) + 1
            if best is None or size < best:
                best = size
    return best


def select_connector(connectors, local_address, port, remote_address):
    """The connector Exchange hands a connection to ``local_address``:``port`` from ``remote_address``, or None.

    ``connectors``: ``(key, bindings, remote_ip_ranges)`` triples of the connectors of the listening transport
    service; ``remote_ip_ranges`` None or empty means every address (ALL_ADDRESSES); ``local_address`` None:
    unknown, see _binding_rank. The most specific binding
    wins, then the narrowest remote range holding the sender; the key breaks a tie (Exchange refuses two
    connectors with the same binding and range).
    """
    remote = _plain(remote_address)
    local = None if local_address is None else _plain(local_address)
    family = remote.version if local is None else local.version
    best = None
    for key, bindings, ranges in connectors:
        rank = _binding_rank(bindings, local, port, family)
        size = _range_size(ranges or ALL_ADDRESSES, remote) if rank is not None else None
        if size is None:
            continue
        candidate = (rank, size, str(key).lower())
        if best is None or candidate < best[0]:
            best = (candidate, key)
    return None if best is None else best[1]
