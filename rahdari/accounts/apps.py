from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    from django.contrib.auth.management import create_permissions

    from rahdari.accounts.services import roles_sync

    # Roles hold permissions of apps that come later in INSTALLED_APPS (credentials,
    # gateway): make sure every app's permissions exist before the groups get theirs.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    roles_sync()


class AccountsConfig(AppConfig):
    name = "rahdari.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Permissions exist only after migrate; give the role groups theirs then.
        post_migrate.connect(_sync_roles, sender=self)
