from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "rahdari.identity"
    label = "identity"
    verbose_name = "Identity: persons and enrolment"

    def ready(self) -> None:
        from rahdari.core.jobs import register_periodic
        from rahdari.core.notifications import register_templates
        from rahdari.identity import imports, services  # noqa: F401 — job kinds

        register_templates(
            {
                "identity.enrolled": _(
                    "Rahdari: you are enrolled. Your Rahdari number is {number}. Keep it safe."
                ),
                "identity.enrolment_received": _(
                    "Rahdari: we received your enrolment. We will send an SMS when it is checked."
                ),
            }
        )
        register_periodic("identity.retry_queued_enrolments", services.enrolments_retry_if_queued)
