"""The SSRF guard: a workflow's author chooses its webhook URLs, so without a guard the engine
would POST wherever they point, cloud metadata services and internal hosts included.

A target is refused unless its scheme is http or https and every address of its host is public
(`ipaddress`' `is_global`, not multicast), or is inside an allowed network, or the host name
itself is allowed (`HEADWATER_ENGINE_WEBHOOK_ALLOW`). A name resolving to both a public and a
private address is refused: any one of them could be the one connected to.

Names are checked where they are resolved: `GuardedResolver` sits inside the HTTP client's
connector, so the addresses checked are the addresses connected to (no window for a DNS answer
that changes between a check and the connection), and spellings the resolver turns into
addresses (`2130706433`, `0x7f.1`) meet the same check. IP literals never reach a resolver:
`target_refusal` checks them before the request.
"""

import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

__all__ = ["AllowList", "GuardedResolver", "Refused", "target_refusal"]

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


class Refused(OSError):
    """A target the guard refuses. An OSError, so the HTTP client hands it back as the cause of
    its connection error, and the attempt can tell a refusal from a network failure."""


@dataclass(frozen=True, slots=True)
class AllowList:
    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "AllowList":
        """Entries as in the setting: a CIDR (with '/'), an IP address, or a host name. Raises
        ValueError for a CIDR or address that does not parse."""
        names: set[str] = set()
        networks: list[Network] = []
        for entry in (e.strip() for e in entries):
            if "/" in entry:
                networks.append(_network(entry))
            elif entry:
                try:
                    networks.append(ip_network(ip_address(entry.strip("[]"))))
                except ValueError:
                    names.add(_name(entry))
        return cls(frozenset(names), tuple(networks))

    def refusal(self, host: str, addresses: Sequence[Address]) -> str | None:
        """Why `host`, at these addresses, may not be reached; None when it may."""
        if _name(host) in self.names:
            return None
        for address in addresses:
            if not _public(address) and not any(address in n for n in self.networks):
                at = "" if str(address) == host else f" resolves to {address}, which"
                return (
                    f"{host}{at} is not a public address: refused by the SSRF guard (allow it in"
                    " HEADWATER_ENGINE_WEBHOOK_ALLOW)"
                )
        return None


def target_refusal(url: URL, allow: AllowList) -> str | None:
    """What the guard says before a request: the scheme, the host's presence, an IP literal's
    address. A host name is checked later, when it is resolved (`GuardedResolver`)."""
    if url.scheme not in ("http", "https"):
        return f"{url.scheme or 'no'} scheme: webhooks are http or https only"
    if not url.host:
        return "the URL has no host"
    try:
        address = ip_address(url.host)
    except ValueError:
        return None
    return allow.refusal(url.host, [address])


class GuardedResolver(AbstractResolver):
    """The default resolver, with every answer checked by the guard before it is used."""

    def __init__(self, allow: AllowList, resolver: AbstractResolver | None = None) -> None:
        self._allow = allow
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        addresses = [ip_address(result["host"]) for result in results]
        if reason := self._allow.refusal(host, addresses):
            raise Refused(reason)
        return results

    async def close(self) -> None:
        await self._resolver.close()


def _public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


def _name(host: str) -> str:
    return host.lower().rstrip(".")


def _network(entry: str) -> Network:
    try:
        return ip_network(entry, strict=False)
    except ValueError as exc:
        raise ValueError(f"{entry!r} is not a network (CIDR)") from exc
