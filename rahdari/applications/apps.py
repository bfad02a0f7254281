from __future__ import annotations

from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "rahdari.applications"
    label = "applications"
    verbose_name = "Applications"

    def ready(self) -> None:
        from rahdari.applications import services
        from rahdari.core.inbound import register_inbound_handler

        # "STATUS 2482109375" by SMS from the applicant's phone: the status in reply.
        register_inbound_handler("applications.status", services.status_sms_handler)
