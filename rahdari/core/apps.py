from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rahdari.core"
    label = "core"
    verbose_name = "Rahdari core"

    def ready(self) -> None:
        # Register job kinds defined in this app.
        from rahdari.core import services  # noqa: F401
        from rahdari.core.audit import audit_chain
        from rahdari.core.jobs import register_periodic

        # Entries whose process died between its commit and their chaining.
        register_periodic("core.audit_chain", audit_chain)

        from rahdari.core.notifications import notifications_deliver_queued

        register_periodic("core.deliver_queued_messages", notifications_deliver_queued)
