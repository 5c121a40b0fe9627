"""HELIOS's HTTP API, version 1 (django-ninja: the OpenAPI 3 schema at /api/v1/openapi.json and
its docs page at /api/v1/docs, served from HELIOS's own static files).

    POST /api/v1/events        publish: HELIOS's envelope (one or an array) or CloudEvents
                               (structured, batched, binary)
    GET  /api/v1/events/{id}   the event and each delivery's status

Every answer is JSON; every refusal says why (`{"errors": [...]}`) and creates nothing; a
problem of HELIOS's own is a 503 to retry, never a 500.
"""

import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Status
from ninja.security import HttpBearer

from core.client_address import client_address
from events.models import Delivery, Event

from .answers import AcceptedOut, Envelope, Errors, EventOut
from .expansion import waiting_events
from .idempotency import earlier_answer, remember, request_digest
from .incoming import BATCH, STRUCTURED, BadRequest, read_request
from .keys import KeyRefused, KeysThrottled, RateLimited, authenticate, spend
from .models import ApiEvent, ApiKey, IdempotentRequest
from .publishing import Answer, Refused, accept

logger = logging.getLogger(__name__)


class ApiKeyBearer(HttpBearer):
    """`Authorization: Bearer <API key>`."""

    def __call__(self, request: HttpRequest) -> ApiKey:
        return authenticate(request.headers.get("Authorization", ""), remote_addr=client_address(request) or None)

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:  # required by HttpBearer; __call__ decides
        return self(request)


api = NinjaAPI(
    title="HELIOS",
    version="1",
    description=__doc__,
    urls_namespace="api-v1",
    auth=ApiKeyBearer(),
)


def _errors(status: int, reasons: list[str], **headers: str) -> JsonResponse:
    response = JsonResponse(Errors(errors=reasons).model_dump(), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


@api.exception_handler(KeyRefused)
def _key_refused(request: HttpRequest, refused: KeyRefused) -> HttpResponse:
    if isinstance(refused, KeysThrottled):
        return _errors(429, [str(refused)], Retry_After=str(refused.retry_after))
    return _errors(401, [str(refused)], WWW_Authenticate='Bearer realm="helios"')


def _too_large() -> JsonResponse:
    limit = settings.HELIOS_API_MAX_BODY_BYTES
    return _errors(413, [f"The body is larger than {limit:,} bytes; send smaller batches."])


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
    return _too_large()


@api.exception_handler(DatabaseError)
def _database(request: HttpRequest, error: DatabaseError) -> HttpResponse:
    logger.exception("api: the database is unavailable")
    return _errors(503, ["HELIOS cannot take events right now; send them again later."], Retry_After="30")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.exception("api: unexpected error")
    return _errors(
        503, ["HELIOS could not process this request; nothing was created. Send it again."], Retry_After="30"
    )


REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        Envelope.model_json_schema(),
                        {"type": "array", "items": Envelope.model_json_schema()},
                    ]
                }
            },
            STRUCTURED: {"schema": {"type": "object", "description": "One CloudEvent 1.0 (JSON format)."}},
            BATCH: {"schema": {"type": "array", "items": {"type": "object"}, "description": "CloudEvents 1.0."}},
        },
    }
}


@api.post(
    "/events",
    response={
        202: AcceptedOut,
        400: Errors,
        401: Errors,
        403: Errors,
        409: Errors,
        413: Errors,
        422: Errors,
        429: Errors,
    },
    openapi_extra=REQUEST_BODY,
    summary="Publish events",
    url_name="events",
)
def publish(request: HttpRequest) -> Any:
    """Publish one event or a batch. Binary-mode CloudEvents: attributes in `ce-*` headers, the
    data as the body. Name provider configs with `providers` (envelope) or `heliosproviders`
    (CloudEvents). An `Idempotency-Key` header makes a retry safe: the same key and body get the
    first answer again; the same key with another body gets 409."""
    key: ApiKey = request.auth
    limit = settings.HELIOS_API_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _too_large()
    body = request.body
    if len(body) > limit:
        return _too_large()
    headers = {name.lower(): value for name, value in request.headers.items()}
    idempotency_key = headers.get("idempotency-key", "").strip()
    if idempotency_key:
        if len(idempotency_key) > 200:
            return _errors(400, ["The Idempotency-Key is longer than 200 characters."])
        if not idempotency_key.isprintable():
            return _errors(400, ["The Idempotency-Key must be printable text (no NUL or other control characters)."])
        digest = request_digest(body, request.content_type or "", headers)
        earlier = earlier_answer(key, idempotency_key)
        if earlier is not None:
            return _replay(earlier, digest)
    try:
        incoming = read_request(body, request.content_type or "", headers)
        if len(incoming) > settings.HELIOS_API_MAX_BATCH_EVENTS:
            return _errors(413, [f"At most {settings.HELIOS_API_MAX_BATCH_EVENTS:,} events a request."])
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    spend(key, len(incoming))
                    accepted = accept(key, incoming, remote_addr=client_address(request) or None)
                    answer = AcceptedOut(events=EventOut.answering(request, key, accepted))
                    kept = answer.model_dump(mode="json") if idempotency_key else None
                    if kept is not None and (winner := remember(key, idempotency_key, digest, kept)):
                        transaction.set_rollback(True)  # a concurrent request with the key won: its answer stands
                        return _replay(winner, digest)
                break
            except IntegrityError:
                # A concurrent request made the same CloudEvent (or took its UUID) first: once more,
                # this request then finds it.
                if attempt == 2:
                    raise
    except BadRequest as bad:
        return _errors(400, bad.reasons)
    except Refused as refused:
        return _errors(refused.status, refused.reasons)
    except RateLimited as limited:
        return _errors(429, [str(limited)], Retry_After=str(limited.retry_after))
    return Status(202, answer)


def _replay(earlier: IdempotentRequest, digest: str) -> Any:
    if earlier.body_sha256 != digest:
        return _errors(409, ["This Idempotency-Key was used with another body; use a new key for a new request."])
    return Status(earlier.status, earlier.answer)


@api.get("/events/{event_id}", response={200: EventOut, 404: Errors}, summary="An event", url_name="event")
def event_detail(request: HttpRequest, event_id: uuid.UUID) -> Any:
    """The event, each delivery's status, attempts, message id and round-trip confirmation: events
    this key published, or that reached one of its provider configs; deliveries to its own
    provider configs only. An event accepted and not yet expanded answers `"status": "accepted"`
    with no deliveries."""
    key: ApiKey = request.auth
    published = ApiEvent.objects.filter(event_id=OuterRef("pk"), api_key=key)
    reached = Delivery.objects.filter(event_id=OuterRef("pk"), provider__in=key.providers.all())
    visible = Event.objects.filter(Q(Exists(published)) | Q(Exists(reached)), pk=event_id)
    event = visible.first()
    if event is None:
        accepted = ApiEvent.objects.filter(event_id=event_id, api_key=key)
        request_id = accepted.values_list("request_id", flat=True).first()
        waiting = waiting_events([request_id]) if request_id else {}
        if event_id in waiting:
            answer = Answer(waiting[event_id], reused=False, stored=False)
            return Status(200, EventOut.answering(request, key, [answer])[0])
        # Under READ COMMITTED each query sees what was committed when it ran: a worker may have
        # expanded the request after the first look and before the accept log was read, so the
        # event is looked for once more before it is called unknown.
        event = visible.first()
    if event is None:
        return Status(404, {"errors": ["No such event for this API key."]})
    return Status(200, EventOut.answering(request, key, [Answer(event, reused=False, stored=True)])[0])
