"""django-q2's task pages with an audited, permissioned resubmit."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q import admin as django_q_admin
from django_q.models import Failure, Success, Task

from core import audit
from core.audit import Actor
from core.models import AuditAction


class AuditedResubmitMixin:
    """django-q2's "Resubmit selected tasks", needing the change permission and audited.

    django-q2's own action needs only view permission and leaves no trace. Resubmitting a HELIOS
    send task is harmless (a task is a doorbell: the database decides what is sent)."""

    actions = ["resubmit_tasks"]

    @admin.action(description="Resubmit selected tasks to the queue (audited)", permissions=["change"])
    def resubmit_tasks(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        tasks = list(queryset)
        names = [task.name for task in tasks]
        django_q_admin.resubmit_task(self, request, queryset)
        audit.record(
            actor=Actor.from_request(request),
            action=AuditAction.TASK_RESUBMIT,
            target=f"{len(tasks)} tasks",
            summary=f"Resubmitted {len(tasks)} task(s): {', '.join(names[:5])}{' …' if len(names) > 5 else ''}",
            details={"tasks": names[:100], "functions": sorted({task.func for task in tasks})},
        )
        self.message_user(request, f"{len(tasks)} task(s) resubmitted to the queue.", messages.SUCCESS)


class SuccessAdmin(AuditedResubmitMixin, django_q_admin.TaskAdmin):
    """Successful tasks (django-q2's page), with the audited resubmit."""


class FailureAdmin(AuditedResubmitMixin, django_q_admin.FailAdmin):
    """Failed tasks (django-q2's page), with the audited resubmit; a resubmitted failure is removed."""


for model, model_admin in ((Success, SuccessAdmin), (Failure, FailureAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
