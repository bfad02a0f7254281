from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "rahdari.programs"
    label = "programs"
    verbose_name = "Programs and eligibility"

    def ready(self) -> None:
        from rahdari.core.jobs import register_periodic
        from rahdari.programs import services

        register_periodic("programs.exits_due", services.beneficiaries_exit_due)
