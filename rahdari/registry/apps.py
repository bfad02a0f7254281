from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "rahdari.registry"
    label = "registry"
    verbose_name = "Social registry: households and survey answers"

    def ready(self) -> None:
        from rahdari.identity.events import subscribe
        from rahdari.registry import imports, services  # noqa: F401 — job kinds

        # A person enrolled later is linked to the household members listed under their ID.
        subscribe("person.enrolled", services.on_person_enrolled)
