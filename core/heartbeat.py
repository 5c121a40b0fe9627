"""Process heartbeats: a worker beats as it starts and every minute (the sweeper); /readyz reads them."""

import os
import socket

from django.utils import timezone

from .models import Heartbeat

WORKER = "worker"


def beat(name: str = WORKER) -> None:
    """Record that a process of this kind is alive now, on this host, with this process id."""
    Heartbeat.objects.update_or_create(
        name=name, defaults={"at": timezone.now(), "host": socket.gethostname()[:255], "pid": os.getpid()}
    )
