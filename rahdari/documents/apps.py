from __future__ import annotations

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "rahdari.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from rahdari.core.jobs import register_periodic
        from rahdari.documents import services

        # Uploads cut off by a crash leave a temporary file: finish or remove it.
        register_periodic("documents.sweep_temporary", services.temporary_files_sweep)
        # Papers stored while no virus scanner answered are scanned once one does.
        register_periodic("documents.rescan", services.documents_rescan)
