"""Round-trip receivers: one plain view the clouds push events back to, at one path per cloud.

    POST/OPTIONS /receive/eventgrid/<config id>/   an Event Grid webhook subscription
    POST         /receive/pubsub/<config id>/      a Pub/Sub push subscription
    POST         /receive/eventbridge/<config id>/ an EventBridge API destination

Each kind's `Receiver` (providers/kinds) gives the path, the parser, the status that acknowledges
and whether the CloudEvents validation handshake (OPTIONS) is answered.

Each request is authenticated with the config's receiver settings (401 without credentials, 403
with wrong ones, nothing stored), size-checked (413) and parsed (400 with the reason). A request
is never answered with a 500. A body that can never be stored (poison: unparseable, too deep, an
id with NUL or a lone surrogate, a value the database refuses) gets 400, so the cloud stops
redelivering it. Only what can recover gets 503 with Retry-After (the database is down, the
receiver's secret variable is unset, the OIDC certificates cannot be fetched, an unexpected error
in HELIOS), so the cloud delivers it again later.
"""

import logging
from collections.abc import Callable

from django.db import DatabaseError, DataError, IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from providers.inbound.auth import ReceiverAuthSettings, authenticate
from providers.inbound.parsing import InboundRejected
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
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > receiver.max_body_bytes:
        return _error(413, f"The body is larger than {receiver.max_body_bytes:,} bytes.")
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
    body = request.read(receiver.max_body_bytes + 1)
    if len(body) > receiver.max_body_bytes:
        return _error(413, f"The body is larger than {receiver.max_body_bytes:,} bytes.")
    try:
        parsed = cloud.parse(body, request.content_type or "", headers)
    except InboundRejected as rejected:
        return _error(400, str(rejected))
    if parsed.validation_response is not None:
        logger.info("receiver %s answered an Event Grid subscription validation", receiver.provider.name)
        return JsonResponse(parsed.validation_response)
    via = f"{receiver.provider.get_kind_display()} receiver"
    summary = record_arrivals(provider=receiver.provider, events=parsed.events, via=via, secrets=[auth.secret()])
    logger.info(
        "receiver %s: %d new, %d duplicate, %d confirmed",
        receiver.provider.name,
        summary.new,
        summary.duplicates,
        summary.confirmed,
    )
    return HttpResponse(status=cloud.ok_status)


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
