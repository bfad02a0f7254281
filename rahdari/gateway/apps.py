from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GatewayConfig(AppConfig):
    name = "rahdari.gateway"
    label = "gateway"
    verbose_name = "Service gateway"

    def ready(self) -> None:
        from rahdari.core.notifications import register_templates

        register_templates(
            {
                "gateway.consent_code": _(
                    "Rahdari: {partner} asks for your {attributes} for: {purpose}. "
                    "If you agree, tell them code {code}. It works for 10 minutes."
                ),
                "gateway.consent_code_standing": _(
                    "Rahdari: {partner} asks for your {attributes} for: {purpose}, and to "
                    "remember your consent for {months} months. If you agree, tell them code "
                    "{code}. It works for 10 minutes."
                ),
                "gateway.released": _(
                    "Rahdari: your {attributes} were shared with {partner}. Receipt {receipt}. "
                    "You can see every sharing in Rahdari under My data sharing."
                ),
            }
        )
