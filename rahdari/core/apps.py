from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rahdari.core"
    label = "core"
    verbose_name = "Rahdari core"

    def ready(self) -> None:
        # Register job kinds defined in this app.
        from rahdari.core import services  # noqa: F401
