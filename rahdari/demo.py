"""The demo province: real district names, demo staff of every role, synthetic citizens.

Idempotent: running it again keeps what exists and adds what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rich.console import Console
from rich.table import Table

from rahdari.core import secrets as local_secrets
from rahdari.core.models import District


@dataclass(frozen=True)
class DemoLogin:
    kind: str
    login: str
    secret: str
    role: str
    note: str


STAFF = [
    ("admin", "Farah Naz Khattak", ["administrator"], []),
    ("enrol.swat", "Sher Afzal Yousafzai", ["enrolment_officer"], ["Swat", "Buner"]),
    (
        "program.peshawar",
        "Nasreen Afridi",
        ["program_officer"],
        ["Peshawar", "Charsadda", "Nowshera"],
    ),
    ("approver.finance", "Ijaz Ahmad Durrani", ["payment_approver"], ["Peshawar"]),
    ("grievance.mardan", "Bushra Bibi Mohmand", ["grievance_officer"], ["Mardan", "Swabi"]),
    ("counter.hospital", "Dr. Kamran Bangash", ["service_operator"], ["Peshawar"]),
    ("auditor", "Saima Qureshi", ["auditor"], []),
]


def demo_password() -> str:
    return local_secrets.local_secret(settings.VAR_DIR, "demo_password", 9)


def _ensure_staff(password: str) -> list[DemoLogin]:
    from rahdari.accounts.models import User
    from rahdari.accounts.roles import Role
    from rahdari.accounts.services import staff_create

    logins = []
    for username, name, roles, districts in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = staff_create(
                username=username,
                full_name=name,
                password=password,
                roles=[Role(r) for r in roles],
                districts=list(District.objects.filter(name__in=districts)),
                actor=None,
            )
        note = ", ".join(districts) or "all districts"
        if user.requires_totp:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="demo", confirmed=True)
            note += f" · TOTP: `rahdari totp-code {username}`"
        logins.append(DemoLogin("staff", username, password, roles[0], note))
    return logins


def _ensure_citizens(count: int, seed: int) -> list[DemoLogin]:
    from rahdari.accounts.models import User
    from rahdari.accounts.services import citizen_register
    from rahdari.core.synthetic import generate_batches

    existing = User.objects.filter(is_citizen=True).count()
    logins: list[DemoLogin] = []
    if existing < count:
        from rahdari.core.synthetic import generate_batches

        # Adults spread evenly over a few thousand households, so every district shows up.
        candidates = list(_adults_with_phones(generate_batches(households=4000, seed=seed)))
        step = max(1, len(candidates) // (count * 2))
        for person in candidates[::step]:
            if existing >= count:
                break
            language = ["ps", "ur", "en"][existing % 3]
            try:
                citizen_register(
                    cnic=person["national_id"],
                    phone=person["mobile"],
                    full_name=person["full_name"],
                    language=language,
                    actor=None,
                )
            except Exception:  # noqa: S112 — a generated duplicate is skipped, not fatal
                continue
            existing += 1
    for user in User.objects.filter(is_citizen=True).order_by("date_joined")[:3]:
        from rahdari.core.validators import format_cnic

        logins.append(
            DemoLogin(
                "citizen",
                format_cnic(user.cnic),
                "SMS code → /dev/outbox/",
                "citizen",
                f"language {user.preferred_language}",
            )
        )
    return logins


def _adults_with_phones(batches: Any) -> Any:
    for batch in batches:
        persons = batch.persons
        for i in range(len(persons["person_id"])):
            if persons["id_document"][i] == "cnic" and persons["mobile"][i]:
                yield {
                    "national_id": str(persons["national_id"][i]),
                    "mobile": str(persons["mobile"][i]),
                    "full_name": f"{persons['given_name'][i]} {persons['family_name'][i]}".strip(),
                }


def _demo_activity() -> None:
    """A staff look at the first citizen's account, so 'who looked at my data' shows a row."""
    from rahdari.accounts.models import User
    from rahdari.accounts.services import citizen_account_view
    from rahdari.core.models import AuditEntry

    if AuditEntry.objects.filter(action__endswith=".viewed").exists():
        return
    citizen = User.objects.filter(is_citizen=True).order_by("date_joined").first()
    officer = User.objects.filter(username="enrol.swat").first()
    if citizen and officer:
        citizen_account_view(
            actor=officer, citizen=citizen, purpose="Checking the mobile number before enrolment"
        )


def demo_province(*, citizens: int = 40, seed: int = 2026) -> list[DemoLogin]:
    from rahdari.accounts.services import roles_sync
    from rahdari.core.keyring import keyring

    with transaction.atomic():
        roles_sync()
        keyring().active_key_id()
        logins = _ensure_staff(demo_password())
        logins += _ensure_citizens(citizens, seed)
        _demo_activity()
    return logins


def current_totp(username: str) -> str | None:
    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
    if device is None:
        return None
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def print_logins(logins: list[DemoLogin], console: Console) -> None:
    console = Console(stderr=console.stderr, width=max(console.width, 150))
    table = Table(title="Rahdari demo province — logins (http://127.0.0.1:8000)")
    for column in ("kind", "login", "password / code", "role", "note"):
        table.add_column(column, no_wrap=column != "note")
    for item in logins:
        table.add_row(item.kind, item.login, item.secret, item.role, item.note)
    console.print(table)
    console.print(
        "Staff log in at /accounts/login/, citizens at /accounts/login/citizen/. "
        "Add ?lang=ur or ?lang=ps to any page for Urdu or Pashto."
    )
