from __future__ import annotations

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "rahdari.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from rahdari.payments import services  # noqa: F401 — registers the job kinds
