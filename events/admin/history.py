"""History pages: lists that stay fast at millions of rows (exact, index-backed search, capped
counts), and streamed downloads."""

import uuid

from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from core.identifiers import parse_uuid

from ..models import Event
from ..pagination import CappedCountPaginator
from ..services.exports import Export

#: Most events a subject search matches (subjects are usually unique per entity).
MAX_SUBJECT_MATCHES = 1000


class HistoryListMixin:
    """Event and delivery lists that stay fast at millions of rows.

    Search is exact and index-backed, never a LIKE scan: a UUID matches an event id (or, for
    deliveries, a provider message id); anything else an exact provider message id or an event
    subject (case-insensitive). Counts are capped or estimated (CappedCountPaginator)."""

    paginator = CappedCountPaginator
    show_full_result_count = False  # no second COUNT(*) over the whole table
    search_help_text = "An event id, a provider message id, or an event subject (exact, any case)."

    def search_q(self, term: str, event_id: uuid.UUID | None, subject_event_ids: list[uuid.UUID]) -> Q:
        """Rows a search term finds, given the term as an event id and the events with that subject."""
        raise NotImplementedError

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        event_id = parse_uuid(term)
        subject_ids = [] if event_id else _events_with_subject(term)
        return queryset.filter(self.search_q(term, event_id, subject_ids)), False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["selection_note_all"] = f"All {context['cl'].paginator.count_label} selected"
        return response


def _events_with_subject(term: str) -> list[uuid.UUID]:
    matches = Event.objects.filter(subject__iexact=term).order_by().values_list("id", flat=True)
    return list(matches[:MAX_SUBJECT_MATCHES])


def streamed(export: Export) -> StreamingHttpResponse:
    """An export as a streamed download."""
    response = StreamingHttpResponse(export.lines, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
