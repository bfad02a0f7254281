"""Login pages, lockout, workspaces and permissions, through Django's test client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from rahdari.accounts.roles import Role
from rahdari.core.models import AuditEntry, OutboundMessage
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db


def _code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_officer_logs_in_with_password_and_sees_workspace(make_staff: Any, client: Client) -> None:
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    response = client.post(
        reverse("accounts:login"), {"username": officer.username, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 302 and response.url == reverse("accounts:workspace")
    page = client.get(reverse("accounts:workspace"))
    assert page.status_code == 200
    assert b'data-role="enrolment_officer"' in page.content and b"Swat" in page.content


def test_wrong_password_shows_error_in_urdu(make_staff: Any, client: Client) -> None:
    officer = make_staff(Role.AUDITOR)
    page = client.post(
        reverse("accounts:login") + "?lang=ur",
        {"username": officer.username, "password": "wrong-password-1"},
    )
    assert page.status_code == 200
    assert 'dir="rtl"' in page.content.decode() and 'lang="ur"' in page.content.decode()
    assert client.get(reverse("accounts:workspace")).status_code == 302


def test_approver_must_set_up_and_use_totp(make_staff: Any, client: Client) -> None:
    approver = make_staff(Role.PAYMENT_APPROVER, ["Peshawar"])
    response = client.post(
        reverse("accounts:login"), {"username": approver.username, "password": STAFF_PASSWORD}
    )
    assert response.url == reverse("accounts:login_totp")
    assert client.get(reverse("accounts:workspace")).status_code == 302  # not logged in yet
    setup = client.get(reverse("accounts:login_totp"))
    assert b"data-totp-secret" in setup.content and b"data:image/svg+xml;base64," in setup.content
    device = TOTPDevice.objects.get(user=approver, confirmed=False)
    assert client.post(reverse("accounts:login_totp"), {"token": "000000"}).status_code == 200
    device.refresh_from_db()
    device.throttle_reset()
    done = client.post(reverse("accounts:login_totp"), {"token": _code_for(device)})
    assert done.status_code == 302 and done.url == reverse("accounts:workspace")
    assert client.get(reverse("accounts:workspace")).status_code == 200


def test_lockout_is_by_username_and_ip_not_ip_alone(make_staff: Any, client: Client) -> None:
    victim = make_staff(Role.AUDITOR)
    colleague = make_staff(Role.AUDITOR)
    for _ in range(5):
        client.post(
            reverse("accounts:login"), {"username": victim.username, "password": "wrong-password-1"}
        )
    locked = client.post(
        reverse("accounts:login") + "?lang=ps",
        {"username": victim.username, "password": STAFF_PASSWORD},
    )
    assert locked.status_code == 429
    assert 'lang="ps"' in locked.content.decode()
    other = Client()
    ok = other.post(
        reverse("accounts:login"), {"username": colleague.username, "password": STAFF_PASSWORD}
    )
    assert ok.status_code == 302  # same IP, other username: not locked


def test_citizen_logs_in_with_cnic_and_sms_code(
    make_citizen: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    citizen = make_citizen(cnic="17301-2345678-1", language="ps")
    start = client.post(
        reverse("accounts:citizen_login"), {"step": "cnic", "cnic": "17301-2345678-1"}
    )
    assert start.status_code == 302
    session_blob = str(dict(client.session))
    assert "2345678" not in session_blob  # only the blind index is kept
    code_page = client.get(reverse("accounts:citizen_login"))
    assert citizen.phone[-4:].encode() in code_page.content
    message = OutboundMessage.objects.get(template="accounts.login_code")
    code = re.search(r"\b(\d{6})\b", message.text).group(1)
    wrong = client.post(reverse("accounts:citizen_login"), {"step": "code", "code": "12345a"})
    assert wrong.status_code == 200 and b"errorlist" in wrong.content
    done = client.post(reverse("accounts:citizen_login"), {"step": "code", "code": code})
    assert done.status_code == 302 and done.url == reverse("accounts:me")
    me = client.get(reverse("accounts:me"))
    assert 'lang="ps"' in me.content.decode()  # the citizen's own language
    assert citizen.cnic.encode() not in me.content  # masked on the page


def test_invalid_cnic_is_a_field_error_not_a_crash(client: Client) -> None:
    page = client.post(
        reverse("accounts:citizen_login") + "?lang=ur", {"step": "cnic", "cnic": "12-34"}
    )
    assert page.status_code == 200 and b"errorlist" in page.content


def test_citizen_sees_who_looked_at_their_data(make_citizen: Any, staff_client: Any) -> None:
    citizen = make_citizen()
    officer = staff_client(Role.GRIEVANCE_OFFICER, ["Mardan"])
    lookup = officer.post(
        reverse("accounts:citizen_lookup"), {"cnic": citizen.cnic, "purpose": "complaint GR-55"}
    )
    assert lookup.status_code == 200 and citizen.full_name.encode() in lookup.content
    mine = Client()
    mine.force_login(citizen)
    page = mine.get(reverse("accounts:me"))
    assert b"complaint GR-55" in page.content


@pytest.mark.parametrize(
    ("role", "url_name", "status"),
    [
        (Role.ENROLMENT_OFFICER, "core:audit_log", 403),
        (Role.AUDITOR, "core:audit_log", 200),
        (Role.ADMINISTRATOR, "core:audit_log", 200),
        (Role.AUDITOR, "accounts:staff_list", 403),
        (Role.ADMINISTRATOR, "accounts:staff_list", 200),
        (Role.SERVICE_OPERATOR, "accounts:citizen_lookup", 403),
        (Role.PROGRAM_OFFICER, "accounts:citizen_lookup", 200),
        (Role.PAYMENT_APPROVER, "core:operations", 403),
        (Role.ADMINISTRATOR, "core:operations", 200),
    ],
)
def test_pages_by_role(staff_client: Any, role: Role, url_name: str, status: int) -> None:
    client = staff_client(role, ["Peshawar"])
    assert client.get(reverse(url_name)).status_code == status


def test_admin_without_totp_confirmation_is_refused(make_staff: Any, client: Client) -> None:
    admin = make_staff(Role.ADMINISTRATOR)
    client.force_login(admin)  # password only, no TOTP step
    assert client.get(reverse("accounts:staff_list")).status_code == 403
    assert client.get(reverse("accounts:workspace")).url == reverse("accounts:login_totp")


def test_admin_creates_staff_and_bad_input_is_shown(staff_client: Any) -> None:
    admin = staff_client(Role.ADMINISTRATOR)
    bad = admin.post(
        reverse("accounts:staff_list"),
        {
            "username": "X!",
            "full_name": "",
            "language": "ur",
            "roles": ["enrolment_officer"],
            "password": "short",
        },
    )
    assert bad.status_code == 200 and bad.content.count(b'class="errorlist"') >= 3
    good = admin.post(
        reverse("accounts:staff_list"),
        {
            "username": "enrol.bannu",
            "full_name": "Officer",
            "language": "ps",
            "roles": ["enrolment_officer"],
            "districts": [
                __import__("rahdari.core.models", fromlist=["District"])
                .District.objects.get(name="Bannu")
                .pk
            ],
            "password": "a-good-long-passphrase",
            "phone": "",
        },
    )
    assert good.status_code == 302
    assert AuditEntry.objects.filter(action="accounts.staff_created", actor=admin.user).exists()


def test_staff_list_query_count_is_fixed(
    staff_client: Any, make_staff: Any, django_assert_max_num_queries: Any
) -> None:
    admin = staff_client(Role.ADMINISTRATOR)
    for _ in range(15):
        make_staff(Role.ENROLMENT_OFFICER, ["Swat", "Buner"])
    with django_assert_max_num_queries(14):
        assert admin.get(reverse("accounts:staff_list")).status_code == 200


def test_logout_needs_post(staff_client: Any) -> None:
    client = staff_client(Role.AUDITOR)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("accounts:workspace")).status_code == 302


def test_language_chosen_before_login_becomes_the_profiles(make_staff: Any, client: Client) -> None:
    officer = make_staff(Role.AUDITOR)
    client.get(reverse("accounts:login") + "?lang=ps")
    client.post(
        reverse("accounts:login"), {"username": officer.username, "password": STAFF_PASSWORD}
    )
    officer.refresh_from_db()
    assert officer.preferred_language == "ps"
    assert 'lang="ps"' in client.get(reverse("accounts:workspace")).content.decode()
