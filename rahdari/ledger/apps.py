from __future__ import annotations

from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "rahdari.ledger"
    label = "ledger"
    verbose_name = "Public ledger"

    def ready(self) -> None:
        from rahdari.core.jobs import register_periodic
        from rahdari.ledger import services

        # Integrates what is waiting and signs a new tree head: at least every minute
        # while the log grows, even if no web process happened to do it after a commit.
        register_periodic("ledger.publish", services.ledger_publish)
