from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    from rahdari.accounts.services import roles_sync

    roles_sync()


class AccountsConfig(AppConfig):
    name = "rahdari.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Permissions exist only after migrate; give the role groups theirs then.
        post_migrate.connect(_sync_roles, sender=self)
