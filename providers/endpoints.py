"""Where HELIOS may send a provider's traffic (and with it the deployment's credentials).

A provider config's endpoint options (an EventBridge endpoint override, an Event Grid topic or
namespace endpoint, a Pub/Sub emulator, a webhook URL) may point only at:
- the cloud's own hosts, over https (each kind declares its host suffixes: `Endpoint`), or
- for an endpoint any service may run (`public_hosts`: a webhook), any public host over https:
  one whose every address is a global one (looked up again before each request:
  `connection_problem`), or
- a host the deployment names in `HELIOS_ALLOWED_ENDPOINTS` (stand-ins, emulators, private
  endpoints): `host`, `host:port`, `*.suffix` or a CIDR range such as `10.0.0.0/8`.
Link-local and cloud metadata addresses are refused always, even when named. Anything else is
refused when the config is saved, in words, and again before any client gets credentials (for a
config saved before these rules). A Pub/Sub emulator never gets credentials (credentials.py).
"""

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

#: Host names of cloud instance-metadata services (their addresses are link-local or listed below).
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}  # AWS IPv6, Alibaba
)


@dataclass(frozen=True)
class Endpoint:
    """An option holding where a kind's client connects: a URL, or host:port (`host_only`)."""

    field: str
    #: Host suffixes of the cloud itself (https only); empty: only hosts the deployment allows.
    cloud_suffixes: tuple[str, ...] = ()
    host_only: bool = False
    #: Any public host may get the traffic (https, global addresses only): a webhook's endpoint.
    public_hosts: bool = False


class EndpointRefused(ValueError):
    """A config's endpoint is not one its traffic and credentials may go to (the message says why)."""


def endpoint_problem(endpoint: Endpoint, value: str) -> str:
    """Why HELIOS may not connect to `value` for this endpoint option ("" when it may, or when
    the option is empty: the SDK's own cloud endpoint)."""
    if not value:
        return ""
    scheme, host, port = _parts(value, host_only=endpoint.host_only)
    if not host:
        return "Enter a host name."
    if _always_refused(host):
        return f"{host} is a link-local or cloud metadata address: HELIOS never connects there."
    if _allowed_by_deployment(host, port):
        return ""
    if endpoint.cloud_suffixes and _is_cloud_host(host, endpoint.cloud_suffixes):
        if scheme != "https":
            return "The cloud's endpoints take https only."
        return ""
    if endpoint.public_hosts:
        return _public_host_problem(scheme, host)
    where = f"the cloud's own hosts (*{', *'.join(endpoint.cloud_suffixes)}) or " if endpoint.cloud_suffixes else ""
    return (
        f"{host} is not an endpoint HELIOS may send to (and send credentials to): use {where}a host "
        "the deployment names in HELIOS_ALLOWED_ENDPOINTS (stand-ins, emulators, private endpoints)."
    )


def connection_problem(endpoint: Endpoint, value: str) -> str:
    """Why HELIOS may not connect to `value` now ("" when it may): the saved rules, and for a public
    host its addresses looked up again, so a name that has come to point at a private or
    link-local address since the config was saved gets nothing."""
    if problem := endpoint_problem(endpoint, value):
        return problem
    scheme, host, port = _parts(value, host_only=endpoint.host_only)
    if not endpoint.public_hosts or not host or _allowed_by_deployment(host, port):
        return ""
    return _public_host_problem(scheme, host, look_up=True)


def _public_host_problem(scheme: str, host: str, *, look_up: bool = False) -> str:
    """Why a public-hosts endpoint may not get traffic: not https, or an address that is not
    global (a literal one; a looked-up name's, always when `look_up`, else only for names that are
    local by their form)."""
    if scheme != "https":
        return "Use https: events and their signatures go to public endpoints encrypted."
    literal = _address(host)
    if literal is not None:
        addresses = [literal]
    elif look_up or host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        try:
            found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError:
            return f"{host} does not resolve to an address." if look_up else ""
        addresses = [a for a in (_address(str(info[4][0]).split("%")[0]) for info in found) if a is not None]
    else:
        return ""
    private = sorted({str(a) for a in addresses if not a.is_global})
    if private:
        return (
            f"{host} is not a public address ({', '.join(private)}): private endpoints get events only when "
            "the deployment names them in HELIOS_ALLOWED_ENDPOINTS."
        )
    return ""


def options_problems(endpoints: Iterable[Endpoint], values: Mapping[str, Any]) -> dict[str, str]:
    """{option field: problem} for each endpoint option whose value is refused."""
    problems = {}
    for endpoint in endpoints:
        if problem := endpoint_problem(endpoint, str(values.get(endpoint.field) or "")):
            problems[endpoint.field] = problem
    return problems


def _parts(value: str, *, host_only: bool) -> tuple[str, str, int | None]:
    """(scheme, lower-case host, port) of a URL, or of host:port."""
    try:
        url = urlsplit(f"//{value}" if host_only else value)
        return url.scheme.lower(), (url.hostname or "").rstrip(".").lower(), url.port
    except ValueError:  # a port that is not a number, brackets that do not close
        return "", "", None


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _always_refused(host: str) -> bool:
    if host in METADATA_HOSTS:
        return True
    address = _address(host)
    return address is not None and (
        address.is_link_local or address.is_unspecified or address.is_multicast or address in METADATA_ADDRESSES
    )


def _is_cloud_host(host: str, suffixes: tuple[str, ...]) -> bool:
    return _address(host) is None and any(host.endswith(suffix) for suffix in suffixes)


def _allowed_by_deployment(host: str, port: int | None) -> bool:
    address = _address(host)
    for entry in settings.HELIOS_ALLOWED_ENDPOINTS:
        entry = entry.strip().lower()
        if not entry:
            continue
        if "/" in entry:
            try:
                if address is not None and address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        elif entry.startswith("*."):
            if address is None and host.endswith(entry[1:]):
                return True
        else:
            _, allowed_host, allowed_port = _parts(entry, host_only=True)
            if allowed_host == host and allowed_port in (None, port):
                return True
    return False
