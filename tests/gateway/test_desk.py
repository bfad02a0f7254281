"""The service desk pages: who may work a counter, the SMS-code path, wrong codes and the
lock, a standing consent, an answer on the person's phone, the outcome (audited), clear
refusals, and a partner that cannot see another partner's requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation

from rahdari.accounts.models import User
from rahdari.accounts.roles import Role
from rahdari.core import qr
from rahdari.core.models import AuditEntry, OutboundMessage
from rahdari.credentials import services as credentials
from rahdari.credentials.models import Credential
from rahdari.credentials.selectors import REASON_TEXTS
from rahdari.gateway import services
from rahdari.gateway.desk import SESSION_KEY
from rahdari.gateway.forms import OUTCOME_LABELS
from rahdari.gateway.models import ConsentRequest, Partner, Release, Service
from rahdari.identity.models import Person
from tests.gateway.conftest import PartnerClient, last_code

pytestmark = pytest.mark.django_db

DESK = "/gateway/desk/sehat-card/"


@pytest.fixture
def desk(
    make_partner: Callable[..., PartnerClient], make_staff: Callable[..., User]
) -> Callable[..., tuple[Client, User, Partner]]:
    """`desk()`: a logged-in counter operator of a new hospital running the Sehat Card."""

    def make(
        name: str = "Saidu Teaching Hospital, Swat", **kw: Any
    ) -> tuple[Client, User, Partner]:
        partner = make_partner(name=name, **kw).partner
        operator = make_staff(Role.SERVICE_OPERATOR)
        partner.operators.add(operator)
        client = Client()
        client.force_login(operator)
        return client, operator, partner

    return make


def _qr(person: Person) -> str:
    return str(Credential.objects.get(person=person, status="active").qr_compact)


def _scan(client: Client, text: str, lang: str = "en", **extra: Any) -> Any:
    return client.post(f"{DESK}?lang={lang}", {"qr": text, **extra})


def _request_of(person: Person) -> ConsentRequest:
    return ConsentRequest.objects.filter(person=person).latest("created_at")


def _code(client: Client, request: ConsentRequest, code: str, lang: str = "en") -> Any:
    return client.post(f"{DESK}code/?lang={lang}", {"request": str(request.pk), "code": code})


def _codes_sent() -> int:
    return OutboundMessage.objects.filter(template__startswith="gateway.consent_code").count()


def test_only_operators_of_an_active_partner_running_the_service(
    desk: Callable[..., tuple[Client, User, Partner]],
    make_staff: Callable[..., User],
    make_citizen: Callable[..., User],
) -> None:
    assert Client().get(DESK).status_code == 302  # to the login page
    client, _operator, partner = desk()
    assert client.get(DESK).status_code == 200
    index = client.get("/gateway/desk/?lang=en").content.decode()
    assert 'data-service="sehat-card"' in index and partner.name in index
    assert 'href="/gateway/desk/"' in index  # the operator's navigation item
    assert client.get("/gateway/desk/school-enrolment/").status_code == 403  # not run here
    assert client.get("/gateway/desk/land-records/").status_code == 404  # not open

    for outsider in (
        make_staff(Role.SERVICE_OPERATOR),  # an operator, but of no partner
        make_staff(Role.ENROLMENT_OFFICER),
        make_citizen(),
    ):
        other = Client()
        other.force_login(outsider)
        assert other.get(DESK).status_code == 403
        page = other.get("/gateway/services/")
        assert 'href="/gateway/desk/"' not in page.content.decode()
    lonely = Client()
    lonely.force_login(make_staff(Role.SERVICE_OPERATOR))
    assert "Ask an administrator" in lonely.get("/gateway/desk/?lang=en").content.decode()

    # A partner's operator without the role's permission is refused too.
    officer = make_staff(Role.ENROLMENT_OFFICER)
    partner.operators.add(officer)
    other = Client()
    other.force_login(officer)
    assert other.get(DESK).status_code == 403

    # A deactivated partner's counter closes.
    Partner.objects.filter(pk=partner.pk).update(active=False)
    assert client.get(DESK).status_code == 403
    assert 'href="/gateway/desk/"' not in client.get("/gateway/services/").content.decode()


def test_operator_with_a_totp_role_must_have_confirmed_the_login(
    desk: Callable[..., tuple[Client, User, Partner]],
) -> None:
    client, operator, _partner = desk()
    operator.groups.add(Group.objects.get(name=Role.PAYMENT_APPROVER.value))
    assert client.get(DESK).status_code == 403  # TOTP role, login not confirmed


def test_code_read_out_releases_the_details_and_the_outcome_is_recorded(
    desk: Callable[..., tuple[Client, User, Partner]], active_person: Callable[..., Person]
) -> None:
    client, operator, partner = desk()
    person = active_person(full_name_ur="گل بی بی")
    page = client.get(f"{DESK}?lang=en").content.decode()
    assert 'name="qr"' in page and "data-scanner" in page and 'data-desk-state="scan"' in page

    asked = _scan(client, _qr(person), note="emergency admission")
    assert asked.status_code == 302 and asked["Location"] == DESK  # nothing personal in it
    request = _request_of(person)
    assert request.operator == operator and request.partner == partner
    assert request.purpose == "Sehat Card health insurance at the hospital: emergency admission"
    assert request.scopes == Service.objects.get(slug="sehat-card").scopes
    assert client.session[SESSION_KEY] == {"sehat-card": str(request.pk)}

    waiting = client.get(f"{DESK}?lang=en").content.decode()
    assert "Ask the person for the 6-digit code from their SMS" in waiting
    assert f'value="{request.pk}"' in waiting and "hx-get=" in waiting
    assert person.full_name not in waiting  # nothing is shown before the person agrees

    wrong = _code(client, request, "000000" if last_code(person) != "000000" else "111111")
    assert 'data-desk-error="wrong_code"' in wrong.content.decode()
    assert "The code is not right. 2 tries left." in wrong.content.decode()

    right = _code(client, request, last_code(person))
    assert right.status_code == 200, right.content
    shown = right.content.decode()
    release = Release.objects.get(request=request)
    assert 'data-desk-state="released"' in shown and str(release.pk) in shown
    assert person.full_name in shown and "گل بی بی" in shown and person.guardian_name in shown
    assert person.date_of_birth in shown and 'src="data:image/jpeg;base64,' in shown
    assert "Father&#x27;s or husband&#x27;s name" in shown  # translated labels, capitalised
    for code in ("admitted", "outpatient", "referred", "not_covered"):
        assert f'value="{code}"' in shown
    assert release.collection_method == "sms_code"

    done = client.post(
        f"{DESK}outcome/?lang=en", {"request": str(request.pk), "outcome": "admitted"}
    )
    assert done.status_code == 302 and done["Location"] == DESK
    request.refresh_from_db()
    assert request.outcome == "admitted"
    entry = AuditEntry.objects.get(action="gateway.outcome_recorded", subject_id=str(request.pk))
    assert entry.actor == operator and entry.changes == {"outcome": "admitted"}
    again = client.post(DESK + "outcome/", {"request": str(request.pk), "outcome": "referred"})
    assert again.status_code == 302  # a second click records nothing more
    assert AuditEntry.objects.filter(action="gateway.outcome_recorded").count() == 1
    after = client.get(f"{DESK}?lang=en").content.decode()
    assert f"Recorded: Admitted (receipt {str(release.pk)[:8]})" in after
    assert 'data-desk-state="scan"' in after and person.full_name not in after
    assert client.session[SESSION_KEY] == {}


def test_typed_rahdari_number_and_urdu_labels(
    desk: Callable[..., tuple[Client, User, Partner]], active_person: Callable[..., Person]
) -> None:
    client, _operator, _partner = desk()
    person = active_person()
    number = person.rahdari_number or ""
    asked = _scan(client, f"{number[:4]} {number[4:8]} {number[8:]}", lang="ur")
    assert asked.status_code == 302
    request = _request_of(person)
    released = _code(client, request, last_code(person), lang="ur").content.decode()
    assert 'lang="ur" dir="rtl"' in released
    with translation.override("ur"):
        assert str(OUTCOME_LABELS["admitted"]) in released
        assert str(translation.gettext("Receipt")) in released


def test_a_photo_of_the_qr_works_too(
    desk: Callable[..., tuple[Client, User, Partner]], active_person: Callable[..., Person]
) -> None:
    client, _operator, _partner = desk()
    person = active_person()
    photo = SimpleUploadedFile("qr.png", qr.qr_png(_qr(person), scale=4), "image/png")
    assert client.post(DESK, {"qr": "", "image": photo}).status_code == 302
    assert _request_of(person).status == "pending"
    blank = SimpleUploadedFile("blank.png", qr.qr_png("x", scale=1)[:40], "image/png")
    refused = client.post(DESK, {"qr": "", "image": blank}).content.decode()
    assert 'data-desk-error="not_an_image"' in refused


def test_three_wrong_codes_lock_the_request(
    desk: Callable[..., tuple[Client, User, Partner]], active_person: Callable[..., Person]
) -> None:
    client, _operator, _partner = desk()
    person = active_person()
    _scan(client, _qr(person))
    request = _request_of(person)
    good = last_code(person)
    bad = "111111" if good != "111111" else "222222"
    assert "2 tries left" in _code(client, request, bad).content.decode()
    assert "1 try left" in _code(client, request, bad).content.decode()
    locked = _code(client, request, bad)
    text = locked.content.decode()
    assert 'data-desk-error="request_locked"' in text
    assert "The request is locked after three wrong codes." in text and 'role="alert"' in text
    assert 'data-desk-state="scan"' in text and client.session[SESSION_KEY] == {}
    late = _code(client, request, good)  # the right code, too late
    assert 'data-desk-state="released"' not in late.content.decode()
    assert not Release.objects.exists()
    assert ConsentRequest.objects.get(pk=request.pk).status == "locked"


def test_standing_consent_releases_without_a_code_next_time(
    desk: Callable[..., tuple[Client, User, Partner]], active_person: Callable[..., Person]
) -> None:
    client, _operator, _partner = desk()
    person = active_person()
    _scan(client, _qr(person), remember="on")
    first = _request_of(person)
    assert first.standing_months == 6
    sms = OutboundMessage.objects.filter(template="gateway.consent_code_standing")
    assert sms.count() == 1
    assert 'data-desk-state="released"' in _code(client, first, last_code(person)).content.decode()
    client.post(f"{DESK}outcome/", {"request": str(first.pk), "outcome": "outpatient"})

    sent = _codes_sent()
    again = _scan(client, _qr(person))
    assert again.status_code == 200 and "data-desk-error" not in again.content.decode()
    page = again.content.decode()
    second = _request_of(person)
    release = Release.objects.get(request=second)
    assert release.consent_type == "standing" and release.collection_method == "standing"
    assert person.full_name in page and str(release.pk) in page and "Standing consent" in page
    assert _codes_sent() == sent  # no SMS code this time
    assert client.session[SESSION_KEY] == {"sehat-card": str(second.pk)}
    # A reload shows the receipt and the outcome form, not the details again.
    reloaded = client.get(DESK).content.decode()
    assert str(release.pk) in reloaded and person.full_name not in reloaded
    assert 'name="outcome"' in reloaded


def test_person_answers_on_their_phone_while_the_page_polls(
    desk: Callable[..., tuple[Client, User, Partner]],
    active_person: Callable[..., Person],
    make_citizen: Callable[..., User],
) -> None:
    client, _operator, _partner = desk()
    person = active_person()
    citizen = make_citizen()
    Person.objects.filter(pk=person.pk).update(account=citizen)
    poll = f"{DESK}status/"
    assert client.get(poll).status_code == 302  # not htmx: the page itself

    _scan(client, _qr(person))
    request = _request_of(person)
    assert client.get(poll, HTTP_HX_REQUEST="true").status_code == 204  # still waiting
    services.consent_decide(request=request, approve=True, citizen=citizen)
    answered = client.get(poll, HTTP_HX_REQUEST="true")
    assert answered.status_code == 200
    partial = answered.content.decode()
    assert "<html" not in partial and person.full_name in partial
    assert Release.objects.get(request=request).collection_method == "web_approval"

    client.post(f"{DESK}next/")
    assert Release.objects.get(request=request)  # a shared request stays shared
    _scan(client, _qr(person))
    abandoned = _request_of(person)
    client.post(f"{DESK}next/")  # "Cancel and start again" before anybody answered
    abandoned.refresh_from_db()
    assert abandoned.status == ConsentRequest.Status.CANCELLED
    _scan(client, _qr(person))
    refused = _request_of(person)
    services.consent_decide(request=refused, approve=False, citizen=citizen)
    over = client.get(poll, HTTP_HX_REQUEST="true")
    assert over.status_code == 204 and over["HX-Redirect"] == DESK
    assert "The person refused." in client.get(f"{DESK}?lang=en").content.decode()
    assert client.session[SESSION_KEY] == {}


def test_refusals_are_clear_in_the_operators_language(
    desk: Callable[..., tuple[Client, User, Partner]],
    active_person: Callable[..., Person],
    officer: Any,
) -> None:
    client, _operator, _partner = desk()
    person = active_person()
    credential = Credential.objects.get(person=person, status="active")
    credentials.credential_revoke(credential=credential, reason="stolen", actor=officer)
    revoked = _scan(client, credential.qr_compact, lang="ur")
    assert 'data-desk-error="credential_revoked"' in revoked.content.decode()
    with translation.override("ur"):
        assert str(REASON_TEXTS["revoked"]) in revoked.content.decode()
        assert 'lang="ur"' in revoked.content.decode()

    unknown = _scan(client, "1234 5678 9012", lang="en")
    assert 'data-desk-error="person_not_found"' in unknown.content.decode()
    assert "No active person with this Rahdari number." in unknown.content.decode()
    garbage = _scan(client, "HC1:NOTOURS").content.decode()
    assert 'data-desk-error="credential_wrong_prefix"' in garbage
    assert str(REASON_TEXTS["wrong_prefix"]) in garbage
    empty = _scan(client, "  ").content.decode()
    assert 'data-desk-error="invalid"' in empty and "Scan the QR code" in empty
    assert not ConsentRequest.objects.exists()

    fresh = active_person()
    _scan(client, _qr(fresh))
    request = _request_of(fresh)
    ConsentRequest.objects.filter(pk=request.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = client.get(f"{DESK}?lang=en").content.decode()
    assert "The request has expired. Ask again." in expired and 'data-desk-state="scan"' in expired
    late = _code(client, request, last_code(fresh)).content.decode()
    assert 'data-desk-error="request_expired"' in late and "The request has expired" in late
    assert not Release.objects.exists()


def test_another_partners_request_is_not_visible(
    desk: Callable[..., tuple[Client, User, Partner]], active_person: Callable[..., Person]
) -> None:
    mine, _me, _partner = desk()
    theirs, _them, _other = desk(name="Lady Reading Hospital, Peshawar")
    person = active_person()
    _scan(mine, _qr(person))
    request = _request_of(person)
    assert _code(theirs, request, last_code(person)).status_code == 404
    assert (
        theirs.post(
            f"{DESK}outcome/", {"request": str(request.pk), "outcome": "admitted"}
        ).status_code
        == 404
    )
    # Even with the id in its session, the other counter sees nothing of it.
    session = theirs.session
    session[SESSION_KEY] = {"sehat-card": str(request.pk)}
    session.save()
    page = theirs.get(DESK).content.decode()
    assert 'data-desk-state="scan"' in page and str(request.pk) not in page
    assert theirs.get(f"{DESK}status/", HTTP_HX_REQUEST="true")["HX-Redirect"] == DESK
    fresh = ConsentRequest.objects.get(pk=request.pk)
    assert fresh.status == "pending" and fresh.attempts == 0 and not Release.objects.exists()


def test_every_seeded_outcome_has_a_label() -> None:
    for service in Service.objects.all():
        for code in service.outcomes:
            assert code in OUTCOME_LABELS, (service.slug, code)
