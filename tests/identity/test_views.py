"""Identity pages through the test client: assisted enrolment in Urdu, self-enrolment,
the duplicate queue, scoping, the citizen's record."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from rahdari.accounts.roles import Role
from rahdari.core.models import District, OutboundMessage
from rahdari.identity.models import DuplicateCandidate, Enrolment, Person
from tests.identity.conftest import enrol

pytestmark = pytest.mark.django_db


def _form(data: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id_document": data.id_document,
        "national_id": data.national_id,
        "full_name": data.full_name,
        "full_name_ur": data.full_name_ur,
        "guardian_name": data.guardian_name,
        "date_of_birth": data.date_of_birth.isoformat(),
        "sex": data.sex,
        "mobile": data.mobile,
        "district": data.district.pk,
        "tehsil": data.tehsil,
        "village": data.village,
        **extra,
    }


def _png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (50, 50), (10, 200, 10)).save(out, format="PNG")
    out.seek(0)
    out.name = "face.png"
    return out


def test_officer_enrols_in_urdu_with_photo(staff_client: Any, registered: Any) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    page = client.get(reverse("identity:enrol") + "?lang=ur")
    assert page.status_code == 200 and 'dir="rtl"' in page.content.decode()
    assert b"consent-ps" in page.content and b"consent-ur" in page.content
    data = registered()
    response = client.post(
        reverse("identity:enrol"), _form(data, consent="on", consent_language="ps", photo=_png())
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    enrolment = Enrolment.objects.get()
    assert enrolment.status == "approved" and enrolment.consent_language == "ps"
    assert "راهداري" in enrolment.consent_purpose  # the Pashto text the person was shown
    detail = client.get(response.url)
    assert b"data-rahdari-number" in detail.content


def test_enrolment_form_errors_are_shown_not_500(staff_client: Any, registered: Any) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered()
    bad = client.post(
        reverse("identity:enrol") + "?lang=ps",
        _form(data, sex="M", date_of_birth="2999-01-01", consent="on", consent_language="ur"),
    )
    assert bad.status_code == 200
    assert bad.content.count(b'class="errorlist"') >= 2
    assert not Person.objects.exists()


def test_officer_cannot_enrol_outside_their_districts(staff_client: Any, registered: Any) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered(district="Mardan")
    response = client.post(
        reverse("identity:enrol"), _form(data, consent="on", consent_language="ur")
    )
    assert response.status_code == 200 and b"errorlist" in response.content
    assert not Person.objects.exists()


def test_self_enrolment_with_phone_code(client: Client, registered: Any) -> None:
    data = registered()
    client.get(reverse("identity:self_enrol") + "?lang=ur")
    start = client.post(reverse("identity:self_enrol"), {"mobile": data.mobile})
    assert start.status_code == 302
    text = OutboundMessage.objects.get(template="accounts.phone_code").text
    code = re.search(r"\b(\d{6})\b", text).group(1)
    wrong = client.post(
        reverse("identity:self_enrol"), {"code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 200 and b"errorlist" in wrong.content
    proved = client.post(reverse("identity:self_enrol"), {"code": code})
    assert proved.status_code == 302
    form = _form(data, consent="on")
    form.pop("mobile")
    done = client.post(reverse("identity:self_enrol"), form)
    assert done.status_code == 302, done.content.decode()[:2000]
    person = Person.objects.get()
    assert person.status == "active" and person.mobile == data.mobile and person.account is not None
    mine = client.get(reverse("identity:my_record"))
    assert mine.status_code == 200 and b"data-rahdari-number" in mine.content
    assert 'lang="ur"' in mine.content.decode()


def test_duplicate_is_caught_and_resolved_in_the_queue(staff_client: Any, registered: Any) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    first = registered(
        full_name="Muhammad Yousaf Khan",
        sex="M",
        guardian_name="Gul Muhammad",
        mobile="+923451234001",
    )
    enrol(first, client.user)
    second = registered(
        full_name="Mohammad Yusuf Khan",
        sex="M",
        guardian_name="Gul Mohammad",
        mobile="+923451234001",
    )
    client.post(reverse("identity:enrol"), _form(second, consent="on", consent_language="ur"))
    candidate = DuplicateCandidate.objects.get()
    queue = client.get(reverse("identity:duplicates"))
    assert b"data-duplicate-link" in queue.content
    compare = client.get(reverse("identity:duplicate", args=[candidate.pk]))
    assert b"Muhammad Yousaf Khan" in compare.content and b"Mohammad Yusuf Khan" in compare.content
    decided = client.post(
        reverse("identity:duplicate", args=[candidate.pk]),
        {"decision": "same", "reason": "same photo"},
    )
    assert decided.status_code == 302
    assert DuplicateCandidate.objects.get().status == "merged"


def test_other_district_officer_cannot_see_the_person(staff_client: Any, registered: Any) -> None:
    swat = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    person = Person.objects.get(pk=enrol(registered(), swat.user).person_id)
    mardan = staff_client(Role.ENROLMENT_OFFICER, ["Mardan"])
    assert mardan.get(reverse("identity:person", args=[person.pk])).status_code == 404
    results = mardan.get(reverse("identity:officer_home"), {"q": person.rahdari_number})
    assert reverse("identity:person", args=[person.pk]).encode() not in results.content


def test_opening_a_record_asks_why_and_the_citizen_sees_it(
    staff_client: Any, registered: Any, make_citizen: Any
) -> None:
    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered()
    citizen = make_citizen(cnic=data.national_id, phone=data.mobile)
    person = Person.objects.get(pk=enrol(data, officer.user, account=citizen).person_id)
    ask = officer.get(reverse("identity:person", args=[person.pk]))
    assert b'name="purpose"' in ask.content and data.full_name.encode() not in ask.content
    officer.post(
        reverse("identity:person", args=[person.pk]), {"action": "open", "purpose": "SLA check 42"}
    )
    shown = officer.get(reverse("identity:person", args=[person.pk]))
    assert data.full_name.encode() in shown.content
    mine = Client()
    mine.force_login(citizen)
    assert b"SLA check 42" in mine.get(reverse("identity:my_record")).content


def test_search_results_partial_for_htmx(
    staff_client: Any, registered: Any, django_assert_max_num_queries: Any
) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    for i in range(6):
        enrol(registered(full_name=f"Gulalai Khan {i}", mobile=f"+92300555000{i}"), client.user)
    with django_assert_max_num_queries(14):
        partial = client.get(
            reverse("identity:officer_home"), {"q": "Gulalai Khan"}, HTTP_HX_REQUEST="true"
        )
    assert b"<html" not in partial.content and partial.content.count(b"<tr>") >= 6


def test_api_enrol_and_read_with_purpose(staff_client: Any, registered: Any) -> None:
    import json

    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered()
    payload = {k: v for k, v in _form(data).items() if k != "district"}
    payload.update(district="Swat", consent_language="ur", consent_given=True)
    created = client.post(
        "/api/v1/identity/persons", json.dumps(payload), content_type="application/json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "approved" and body["rahdari_number"]
    again = client.post(
        "/api/v1/identity/persons", json.dumps(payload), content_type="application/json"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_enrolled"
    no_purpose = client.get(f"/api/v1/identity/persons/{body['person_id']}")
    assert no_purpose.status_code == 422
    read = client.get(f"/api/v1/identity/persons/{body['person_id']}?purpose=audit")
    assert read.status_code == 200 and read.json()["national_id"] == data.national_id.replace(
        "-", ""
    )
    bad = client.post(
        "/api/v1/identity/persons",
        json.dumps({**payload, "national_id": "1", "sex": "Q"}),
        content_type="application/json",
    )
    assert bad.status_code == 400 and "national_id" in bad.json()["error"]["fields"]
    assert District.objects.filter(name="Swat").exists()
    future = client.post(
        "/api/v1/identity/persons",
        json.dumps({**payload, "date_of_birth": date(2999, 1, 1).isoformat()}),
        content_type="application/json",
    )
    assert future.status_code in (400, 409)


def test_officer_changes_details_and_history_is_kept(staff_client: Any, registered: Any) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered()
    person = Person.objects.get(pk=enrol(data, client.user).person_id)
    edit = reverse("identity:person_edit", args=[person.pk])
    assert client.get(edit).status_code == 302  # open the record (with a reason) first
    client.post(
        reverse("identity:person", args=[person.pk]), {"action": "open", "purpose": "moved house"}
    )
    form = _form(data, village="Kalam", reason="the family moved")
    form.pop("national_id")
    form.pop("id_document")
    response = client.post(edit + "?lang=ur", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    person.refresh_from_db()
    assert person.village == "Kalam" and person.versions.count() == 1
    wrong = _form(data, date_of_birth="1999-09-09", reason="typo")
    page = client.post(edit, wrong)
    assert page.status_code == 200 and b"errorlist" in page.content
    person.refresh_from_db()
    assert person.versions.count() == 1


def test_api_lifecycle_search_duplicates_and_my_record(
    staff_client: Any, registered: Any, make_citizen: Any
) -> None:
    import json

    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered()
    citizen = make_citizen(cnic=data.national_id, phone=data.mobile)
    person = Person.objects.get(pk=enrol(data, client.user, account=citizen).person_id)
    found = client.get("/api/v1/identity/persons", {"q": person.rahdari_number}).json()
    assert [h["id"] for h in found] == [str(person.pk)]
    suspended = client.post(
        f"/api/v1/identity/persons/{person.pk}/status",
        json.dumps({"status": "suspended", "reason": "investigation"}),
        content_type="application/json",
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    wrong = client.post(
        f"/api/v1/identity/persons/{person.pk}/status",
        json.dumps({"status": "merged", "reason": "x"}),
        content_type="application/json",
    )
    assert wrong.status_code == 400
    assert client.get("/api/v1/identity/duplicates").json() == []
    outsider = staff_client(Role.ENROLMENT_OFFICER, ["Mardan"])
    assert outsider.get(f"/api/v1/identity/persons/{person.pk}?purpose=x").status_code == 404
    client.get(f"/api/v1/identity/persons/{person.pk}?purpose=api check")
    mine = Client()
    mine.force_login(citizen)
    record = mine.get("/api/v1/identity/me").json()
    assert record["person"]["rahdari_number"] == person.rahdari_number
    assert [r["purpose"] for r in record["reads"]] == ["api check"]
    assert mine.get("/api/v1/identity/persons?q=x").status_code == 403


def test_photo_only_after_opening_the_record(
    staff_client: Any, registered: Any, make_citizen: Any
) -> None:
    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered(photo=_png().getvalue())
    citizen = make_citizen(cnic=data.national_id, phone=data.mobile)
    person = Person.objects.get(pk=enrol(data, officer.user, account=citizen).person_id)
    photo_url = reverse("identity:person_photo", args=[person.pk])
    assert officer.get(photo_url).status_code == 403
    officer.post(
        reverse("identity:person", args=[person.pk]), {"action": "open", "purpose": "photo check"}
    )
    shown = officer.get(photo_url)
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert shown["Cache-Control"] == "private, no-store"
    outsider = staff_client(Role.ENROLMENT_OFFICER, ["Mardan"])
    assert outsider.get(photo_url).status_code == 404
    own = Client()
    own.force_login(citizen)
    assert own.get(photo_url).status_code == 200


def test_platform_purposes_are_shown_in_the_citizens_language(
    staff_client: Any, registered: Any, make_citizen: Any
) -> None:
    from rahdari.identity import services

    officer = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    data = registered()
    citizen = make_citizen(cnic=data.national_id, phone=data.mobile)
    person = Person.objects.get(pk=enrol(data, officer.user, account=citizen).person_id)
    request = services.correction_request(
        person=person, requested={"village": "Kalam"}, explanation="", evidence=None, actor=citizen
    )
    assert officer.get(reverse("identity:correction", args=[request.pk])).status_code == 200
    mine = Client()
    mine.force_login(citizen)
    page = mine.get(reverse("identity:my_record") + "?lang=ur").content.decode()
    assert "درستی کی درخواست" in page and "correction request" not in page
