"""The client's address, as one rule for the login lock-out (django-axes) and the audit trail.

Behind HELIOS_PROXY_COUNT trusted proxies (a load balancer is 1; a CDN in front of it makes 2),
each proxy appends the address it received the request from to X-Forwarded-For, so the client is
the count-th address from the right; whatever a client writes into the header itself stands to
the left and is ignored. Without proxies (count 0), or when the header has fewer addresses than
proxies (a request that bypassed them), the client is REMOTE_ADDR.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address of the client behind the configured number of trusted proxies."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.HELIOS_PROXY_COUNT
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if count <= 0 or len(hops) < count:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:  # not an address: the proxy chain is not what the setting says
        return remote
