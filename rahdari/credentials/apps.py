from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "rahdari.credentials"
    label = "credentials"
    verbose_name = "QR credentials"

    def ready(self) -> None:
        from rahdari.credentials import services

        services.connect()
