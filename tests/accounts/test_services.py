"""Account services: staff and citizen accounts, login codes, TOTP — state and audit entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_otp.oath import totp

from rahdari.accounts import services
from rahdari.accounts.models import LoginCode, User
from rahdari.accounts.roles import ROLE_PERMISSIONS, Role
from rahdari.core.errors import ApplicationError, Forbidden, RateLimited
from rahdari.core.models import AuditEntry, District, OutboundMessage

pytestmark = pytest.mark.django_db


def _last_code(user: User) -> str:
    message = (
        OutboundMessage.objects.filter(template="accounts.login_code")
        .order_by("-created_at")
        .first()
    )
    assert message is not None
    return next(
        word for word in message.text.replace(".", " ").split() if word.isdigit() and len(word) == 6
    )


def test_roles_sync_gives_each_role_exactly_its_permissions() -> None:
    from django.contrib.auth.models import Group

    services.roles_sync()
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role.value)
        got = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert got == set(perms)


def test_staff_create_audits_and_sends_welcome(
    make_staff: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        user = make_staff(
            Role.ENROLMENT_OFFICER, ["Swat", "Buner"], phone="0300 1234567", language="ps"
        )
    assert user.roles == [Role.ENROLMENT_OFFICER]
    assert {d.name for d in user.districts.all()} == {"Swat", "Buner"}
    entry = AuditEntry.objects.get(action="accounts.staff_created", subject_id=str(user.pk))
    assert entry.changes["roles"] == ["enrolment_officer"]
    message = OutboundMessage.objects.get(template="accounts.staff_account_created")
    assert message.language == "ps" and user.username in message.text
    assert message.status == OutboundMessage.Status.RECORDED


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"roles": []}, "invalid_roles"),
        ({"roles": [Role.CITIZEN]}, "invalid_roles"),
        ({"password": "short"}, "weak_password"),
        ({"password": "1234567890123"}, "weak_password"),
        ({"phone": "0912345678"}, "invalid_phone"),
    ],
)
def test_staff_create_refuses_bad_input_and_saves_nothing(
    kwargs: dict[str, Any], code: str
) -> None:
    data = {
        "username": "new.officer",
        "full_name": "N",
        "password": "a-good-long-passphrase",
        "roles": [Role.AUDITOR],
        "districts": [],
        "actor": None,
        **kwargs,
    }
    with pytest.raises(ApplicationError) as caught:
        services.staff_create(**data)
    assert caught.value.code == code
    assert not User.objects.filter(username="new.officer").exists()
    assert not AuditEntry.objects.filter(action="accounts.staff_created").exists()


def test_duplicate_username_is_refused(make_staff: Any) -> None:
    make_staff(Role.AUDITOR, username="dup")
    with pytest.raises(ApplicationError) as caught:
        make_staff(Role.AUDITOR, username="DUP")
    assert caught.value.code == "username_taken"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cnic", "12345"),
        ("cnic", "17301-1234567-X"),
        ("cnic", "9730112345671"),
        ("phone", "12345"),
        ("phone", "+4915112345678"),
        ("phone", "0912345678"),
        ("full_name", "  "),
    ],
)
def test_citizen_register_field_errors(field: str, value: str) -> None:
    data = {
        "cnic": "17301-1234567-1",
        "phone": "03001234567",
        "full_name": "Gul Bibi",
        "language": "ur",
        field: value,
    }
    with pytest.raises(ApplicationError) as caught:
        services.citizen_register(actor=None, **data)
    assert field in caught.value.fields
    assert not User.objects.filter(is_citizen=True).exists()


def test_citizen_cannot_register_twice(make_citizen: Any) -> None:
    make_citizen(cnic="17301-1234567-1")
    with pytest.raises(ApplicationError) as caught:
        make_citizen(cnic="1730112345671")
    assert caught.value.code == "citizen_exists" and caught.value.status == 409


def test_login_code_round_trip(make_citizen: Any) -> None:
    citizen = make_citizen(language="ur")
    masked = services.login_code_request(cnic=citizen.cnic)
    assert (
        masked is not None
        and masked.endswith(citizen.phone[-4:])
        and citizen.phone[:-4] not in masked
    )
    message = OutboundMessage.objects.filter(template="accounts.login_code").get()
    assert message.language == "ur"
    user = services.login_code_verify(
        cnic_index=services.cnic_index_of(citizen.cnic), code=_last_code(citizen)
    )
    assert user == citizen
    assert AuditEntry.objects.filter(
        action="accounts.citizen_logged_in", subject_id=str(citizen.pk)
    ).exists()
    # A used code never works again.
    with pytest.raises(ApplicationError):
        services.login_code_verify(cnic_index=citizen.cnic_index, code=_last_code(citizen))


def test_unknown_cnic_sends_nothing_and_says_nothing() -> None:
    assert services.login_code_request(cnic="17301-7654321-3") is None
    assert not OutboundMessage.objects.exists()


def test_at_most_three_codes_per_ten_minutes(make_citizen: Any) -> None:
    citizen = make_citizen()
    for _ in range(3):
        services.login_code_request(cnic=citizen.cnic)
    with pytest.raises(RateLimited) as caught:
        services.login_code_request(cnic=citizen.cnic)
    assert caught.value.status == 429
    assert LoginCode.objects.count() == 3
    LoginCode.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert services.login_code_request(cnic=citizen.cnic) is not None


def test_wrong_codes_count_and_lock_the_code(make_citizen: Any) -> None:
    citizen = make_citizen()
    services.login_code_request(cnic=citizen.cnic)
    good = _last_code(citizen)
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    for _ in range(5):
        with pytest.raises(ApplicationError):
            services.login_code_verify(cnic_index=citizen.cnic_index, code=wrong)
    assert LoginCode.objects.get().attempts == 5
    with pytest.raises(ApplicationError):  # even the right code is refused now
        services.login_code_verify(cnic_index=citizen.cnic_index, code=good)


def test_expired_code_is_refused(make_citizen: Any) -> None:
    citizen = make_citizen()
    services.login_code_request(cnic=citizen.cnic)
    LoginCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApplicationError) as caught:
        services.login_code_verify(cnic_index=citizen.cnic_index, code=_last_code(citizen))
    assert caught.value.code == "invalid_code"


def test_totp_setup_and_confirm(make_staff: Any) -> None:
    user = make_staff(Role.PAYMENT_APPROVER, ["Peshawar"])
    assert user.requires_totp
    device = services.totp_device_create(user=user)
    with pytest.raises(ApplicationError):
        services.totp_device_confirm(user=user, device=device, token="000000")
    device.refresh_from_db()
    device.throttle_reset()
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    services.totp_device_confirm(user=user, device=device, token=code)
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEntry.objects.filter(action="accounts.totp_device_confirmed").exists()


def test_citizen_account_view_is_logged_for_the_citizen(make_staff: Any, make_citizen: Any) -> None:
    officer = make_staff(Role.GRIEVANCE_OFFICER, ["Mardan"])
    citizen = make_citizen()
    with pytest.raises(ApplicationError):
        services.citizen_account_view(actor=officer, citizen=citizen, purpose=" ")
    shown = services.citizen_account_view(actor=officer, citizen=citizen, purpose="complaint 123")
    assert shown["cnic"].startswith(citizen.cnic[:5]) and "*" in shown["cnic"]
    from rahdari.core.selectors import reads_of_person

    reads = list(reads_of_person(subject_type="accounts.user", subject_id=str(citizen.pk)))
    assert [(r.actor, r.changes["purpose"]) for r in reads] == [(officer, "complaint 123")]


def test_auditor_may_not_open_citizen_accounts(make_staff: Any, make_citizen: Any) -> None:
    auditor = make_staff(Role.AUDITOR)
    with pytest.raises(Forbidden):
        services.citizen_account_view(actor=auditor, citizen=make_citizen(), purpose="x")


def test_district_rule(make_staff: Any) -> None:
    swat, mardan = District.objects.get(name="Swat"), District.objects.get(name="Mardan")
    officer = make_staff(Role.ENROLMENT_OFFICER, ["Swat"])
    admin = make_staff(Role.ADMINISTRATOR)
    assert officer.has_perm("accounts.act_in_district", swat)
    assert not officer.has_perm("accounts.act_in_district", mardan)
    assert admin.has_perm("accounts.act_in_district", mardan)
