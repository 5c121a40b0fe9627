"""History pages: lists that stay fast at millions of rows (exact, index-backed search, capped
counts), and streamed downloads."""

import uuid
from collections.abc import Callable

from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from core.identifiers import parse_uuid, uuid_prefix_range

from ..models import Event
from ..pagination import CappedCountPaginator
from ..services.exports import Export

#: Most events a subject search matches (subjects are usually unique per entity).
MAX_SUBJECT_MATCHES = 1000


class HistoryListMixin:
    """Event and delivery lists that stay fast at millions of rows.

    Search is exact and index-backed, never a LIKE scan: a UUID, or the short id a list shows (a
    primary-key range), matches event ids; anything else an exact provider message id (deliveries)
    or an event subject (case-insensitive). Counts are capped or estimated (CappedCountPaginator)."""

    paginator = CappedCountPaginator
    show_full_result_count = False  # no second COUNT(*) over the whole table
    search_help_text = "An event id or its short id (first 8 characters), a provider message id, or an event subject."

    def search_q(self, term: str, events: "EventMatch") -> Q:
        """Rows a search term finds; `events(field)` is the condition on an event id field."""
        raise NotImplementedError

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(self.search_q(term, event_match(term))), False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["selection_note_all"] = f"All {context['cl'].paginator.count_label} selected"
        return response


#: Given an event id field ("pk", "event_id"), the condition for the events a term names.
EventMatch = Callable[[str], Q]


def event_match(term: str) -> EventMatch:
    """The events a search term names: its id; else those whose short id it is, or whose subject."""
    if event_id := parse_uuid(term):
        return lambda field: Q(**{field: event_id})
    subject_ids = _events_with_subject(term)
    prefix = uuid_prefix_range(term)
    if prefix is None:
        return lambda field: Q(**{f"{field}__in": subject_ids})
    return lambda field: Q(**{f"{field}__range": prefix}) | Q(**{f"{field}__in": subject_ids})


def _events_with_subject(term: str) -> list[uuid.UUID]:
    matches = Event.objects.filter(subject__iexact=term).order_by().values_list("id", flat=True)
    return list(matches[:MAX_SUBJECT_MATCHES])


def streamed(export: Export) -> StreamingHttpResponse:
    """An export as a streamed download."""
    response = StreamingHttpResponse(export.lines, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
