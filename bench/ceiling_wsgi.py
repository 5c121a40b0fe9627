"""The benchmark's references: HELIOS's own WSGI application and middleware, plus a bare view that
parses the same JSON body and answers 202 without touching the database (the ceiling), and one
that also stores the body durably, one row in one transaction (the floor of any front door that
keeps each request before it answers; bench/api_ingest.py)."""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helios_site.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()  # sets Django up: the URLs below may import the apps

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from bench.common import FLOOR_TABLE  # noqa: E402


@csrf_exempt
def ceiling(request: HttpRequest) -> JsonResponse:
    """Parse the body like the API does (JSON), answer 202: the most a view can do here."""
    body = json.loads(request.body)
    return JsonResponse({"events": len(body) if isinstance(body, list) else 1}, status=202)


@csrf_exempt
def durable_floor(request: HttpRequest) -> JsonResponse:
    """Parse the body, store it in one row (its own transaction, committed), answer 202."""
    body = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {FLOOR_TABLE} (body) VALUES (%s)", [request.body.decode()])
    return JsonResponse({"events": len(body) if isinstance(body, list) else 1}, status=202)


urlpatterns = [
    path("bench/ceiling", ceiling),
    path("bench/floor", durable_floor),
    path("", include("helios_site.urls")),
]
settings.ROOT_URLCONF = __name__
