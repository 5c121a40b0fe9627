"""Round-trip receivers: one plain view the clouds push events back to, at one path per cloud.

    POST/OPTIONS /receive/eventgrid/<config id>/   an Event Grid webhook subscription
    POST         /receive/pubsub/<config id>/      a Pub/Sub push subscription
    POST         /receive/eventbridge/<config id>/ an EventBridge API destination

Each kind's `Receiver` (providers/kinds) gives the path, the parser, the status that acknowledges
and whether the CloudEvents validation handshake (OPTIONS) is answered.

Each request is authenticated with the config's receiver settings first (401 without
credentials, 403 with wrong ones, nothing stored, nothing read). A request is never answered
with a 500.

Poison from an authenticated sender (a body over the receiver's size limit, one that is not what
the cloud sends, one that can never be stored: too deep, an id with NUL or a lone surrogate, a
value the database refuses) is recorded as an unexpected arrival with the reason, and answered
with the kind's `poison_status`: a status its cloud does not redeliver on (400 for Event Grid and
EventBridge; 204 for Pub/Sub push, which redelivers on any other status until the message
expires). docs/round-trip.md, "Poison", cites each cloud's documentation. Only what can recover
gets 503 with Retry-After (the database is down, the receiver's secret variable is unset, the
OIDC certificates cannot be fetched, an unexpected error in HELIOS), so the cloud delivers it
again later.
"""

import logging
from collections.abc import Callable

from django.db import DatabaseError, DataError, IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from providers.inbound.auth import ReceiverAuthSettings, authenticate
from providers.inbound.parsing import InboundRejected, poison_event
from providers.kinds import spec_for
from providers.models import ReceiverSettings

from .services.receipts import record_arrivals

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "30"


def _error(status: int, reason: str) -> JsonResponse:
    response = JsonResponse({"error": reason}, status=status)
    if status == 503:
        response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def _auth_settings(receiver: ReceiverSettings) -> ReceiverAuthSettings:
    return ReceiverAuthSettings(
        auth=receiver.auth,
        secret_env=receiver.secret_env,
        api_key_header=receiver.api_key_header,
        basic_username=receiver.basic_username,
        oidc_audience=receiver.oidc_audience,
        oidc_issuers=tuple(receiver.oidc_issuers.split()),
        oidc_email=receiver.oidc_email,
        oidc_certs_url=receiver.oidc_certs_url,
    )


#: Failures that the same request will hit every time: answered 400, never redelivered.
POISON = (DataError, IntegrityError, UnicodeError, RecursionError, ValueError)


def _never_500(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def guarded(request: HttpRequest, config_id: int, kind: str) -> HttpResponse:
        try:
            return view(request, config_id, kind)
        except POISON as error:
            logger.warning("receiver: a request that can never be stored was refused (%s)", type(error).__name__)
            return _error(400, f"HELIOS cannot store this request ({type(error).__name__}); it is refused for good.")
        except DatabaseError:
            logger.exception("receiver: the database is unavailable")
            return _error(503, "HELIOS cannot store events right now; deliver again later.")
        except Exception:
            logger.exception("receiver: unexpected error")
            return _error(503, "HELIOS could not process this request; deliver again later.")

    guarded.__name__ = view.__name__
    guarded.__doc__ = view.__doc__
    return csrf_exempt(guarded)


@_never_500
def receive(request: HttpRequest, config_id: int, kind: str) -> HttpResponse:
    """A cloud's push delivery to the receiver of one provider config of that kind."""
    cloud = spec_for(kind).receiver
    receiver = (
        ReceiverSettings.objects.select_related("provider")
        .filter(provider_id=config_id, provider__kind=kind, enabled=True)
        .first()
    )
    if receiver is None:
        return _error(404, "No enabled receiver for this provider config.")
    if request.method not in ("POST", "OPTIONS") or (request.method == "OPTIONS" and not cloud.options_handshake):
        return _error(405, "Use POST.")
    headers = {name.lower(): value for name, value in request.headers.items()}
    auth = _auth_settings(receiver)
    # The query string is read as UTF-8 whatever charset the Content-Type claims (request.GET would
    # decode it with that charset: a wrong one mangles the token, an odd one raises).
    query = QueryDict(request.META.get("QUERY_STRING", ""), encoding="utf-8")
    outcome = authenticate(auth, headers, query)
    if not outcome.accepted:
        return _error(outcome.status, outcome.reason)
    if request.method == "OPTIONS":
        return _abuse_protection_handshake(headers)
    via = f"{receiver.provider.get_kind_display()} receiver"
    secrets = [auth.secret()]
    declared = request.META.get("CONTENT_LENGTH") or "0"
    too_large = f"The body is larger than {receiver.max_body_bytes:,} bytes" + (
        f" ({int(declared):,} bytes)." if declared.isdigit() else "."
    )
    # Where the cloud stops on an error status, too large says 413 (neither cloud retries it either).
    too_large_status = 413 if cloud.poison_status >= 400 else cloud.poison_status
    if declared.isdigit() and int(declared) > receiver.max_body_bytes:
        return _poison(receiver, too_large_status, too_large, b"", via=via, secrets=secrets)
    body = request.read(receiver.max_body_bytes + 1)
    if len(body) > receiver.max_body_bytes:
        return _poison(receiver, too_large_status, too_large, body, via=via, secrets=secrets)
    try:
        parsed = cloud.parse(body, request.content_type or "", headers)
    except InboundRejected as rejected:
        return _poison(receiver, cloud.poison_status, str(rejected), body, via=via, secrets=secrets)
    if parsed.validation_response is not None:
        logger.info("receiver %s answered an Event Grid subscription validation", receiver.provider.name)
        return JsonResponse(parsed.validation_response)
    try:
        summary = record_arrivals(
            provider=receiver.provider, events=parsed.events, via=via, operation="push", secrets=secrets
        )
    except POISON as error:
        reason = f"HELIOS cannot store this request ({type(error).__name__})."
        return _poison(receiver, cloud.poison_status, reason, body, via=via, secrets=secrets)
    logger.info(
        "receiver %s: %d new, %d duplicate, %d confirmed",
        receiver.provider.name,
        summary.new,
        summary.duplicates,
        summary.confirmed,
    )
    return HttpResponse(status=cloud.ok_status)


def _poison(
    receiver: ReceiverSettings, status: int, reason: str, body: bytes, *, via: str, secrets: list[str]
) -> HttpResponse:
    """Keep an authenticated sender's poison as an unexpected arrival with its reason, and answer
    with the status that stops this cloud redelivering it."""
    record_arrivals(
        provider=receiver.provider, events=[poison_event(reason, body)], via=via, operation="push", secrets=secrets
    )
    logger.warning("receiver %s: poison kept as an unexpected arrival: %s", receiver.provider.name, reason)
    if status < 300:
        return HttpResponse(status=status)
    return _error(status, f"{reason} It is refused for good (kept as an unexpected arrival).")


def _abuse_protection_handshake(headers: dict[str, str]) -> HttpResponse:
    """CloudEvents webhook validation (used by Event Grid): allow the requesting origin."""
    origin = headers.get("webhook-request-origin", "")
    if not origin:
        return _error(400, "An OPTIONS request must carry WebHook-Request-Origin.")
    response = HttpResponse(status=200)
    response["WebHook-Allowed-Origin"] = origin
    response["WebHook-Allowed-Rate"] = "*"
    response["Allow"] = "POST, OPTIONS"
    return response
