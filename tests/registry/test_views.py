"""Registry pages: the list (search, filter, pages, fixed query count) in English and
Urdu, opening a household with a purpose, the officer's update, and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rahdari.accounts.roles import Role
from rahdari.core.models import AuditEntry
from rahdari.registry import services
from rahdari.registry.models import SurveyResponse

pytestmark = pytest.mark.django_db


def _open(client: Client, household: Any, purpose: str = "Home visit") -> Any:
    return client.post(
        reverse("registry:household", args=[household.pk]),
        {"action": "open", "purpose": purpose},
    )


@pytest.mark.parametrize("lang", ["en", "ur", "ps"])
def test_list_renders_and_filters(staff_client: Any, make_household: Any, lang: str) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat", "Mardan"])
    first = make_household()
    make_household(district="Mardan")
    make_household(district="Peshawar")  # not one of the officer's districts
    page = client.get(reverse("registry:households") + f"?lang={lang}")
    assert page.status_code == 200
    body = page.content.decode()
    assert ('dir="rtl"' in body) == (lang != "en")
    assert "HH0000000001" in body and "HH0000000002" in body
    assert "HH0000000003" not in body
    found = client.get(reverse("registry:households"), {"q": "1"}).content.decode()
    assert "HH0000000001" in found and "HH0000000002" not in found
    only = client.get(reverse("registry:households"), {"district": first.district_id})
    assert "HH0000000002" not in only.content.decode()
    partial = client.get(reverse("registry:households"), HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "HH0000000001" in partial.content.decode()


def test_list_query_count_does_not_grow_with_rows(
    staff_client: Any, make_household: Any, django_assert_num_queries: Any
) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    make_household()
    url = reverse("registry:households")
    client.get(url)  # warm the session and the permission caches

    with django_assert_num_queries(8) as few:
        client.get(url)
    for _ in range(5):
        make_household()
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_household_opens_with_a_purpose_and_shows_answers(
    staff_client: Any, make_household: Any
) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    household = make_household()
    url = reverse("registry:household", args=[household.pk])
    first = client.get(url)
    assert first.status_code == 200 and b'name="purpose"' in first.content
    assert b"iron" not in first.content.lower()  # no answers before a purpose
    assert _open(client, household).status_code == 302
    assert AuditEntry.objects.filter(action="registry.household.viewed").count() == 1
    page = client.get(url + "?lang=ur")
    body = page.content.decode()
    assert page.status_code == 200 and 'dir="rtl"' in body
    assert 'data-variable="roof_material"' in body
    english = client.get(url + "?lang=en").content.decode()
    assert "Iron sheets" in english and "Not enrolled yet" in english
    assert "2025-07-01" in english  # where each answer came from, and when
    assert reverse("registry:household_answers", args=[household.pk]) in english


def test_officer_updates_answers_with_a_reason(staff_client: Any, make_household: Any) -> None:
    client = staff_client(Role.ENROLMENT_OFFICER, ["Swat"])
    household = make_household()
    _open(client, household)
    url = reverse("registry:household_answers", args=[household.pk])
    form = client.get(url)
    assert form.status_code == 200 and b'name="reason"' in form.content
    current = services.unpack_answers(household.responses.get())
    data = {k: v for k, v in current.items() if not isinstance(v, bool) or v}
    data.update(roof_material="rcc", source="officer_update", reason="")
    refused = client.post(url, data)
    assert refused.status_code == 200 and b"errorlist" in refused.content
    data["reason"] = "Roof rebuilt"
    data["children_in_school"] = 9  # more than the children aged 5-16
    refused = client.post(url, data)
    assert refused.status_code == 200 and b"errorlist" in refused.content
    data["children_in_school"] = 2
    done = client.post(url, data)
    assert done.status_code == 302
    latest = SurveyResponse.objects.get(household=household, is_current=True)
    assert latest.version == 2 and latest.reason == "Roof rebuilt"
    assert services.unpack_answers(latest)["roof_material"] == "rcc"
    assert latest.provenance["rooms"] == {"source": "survey", "date": "2025-07-01"}


def test_refusals(staff_client: Any, make_household: Any, make_citizen: Any) -> None:
    household = make_household()
    citizen = Client()
    citizen.force_login(make_citizen())
    assert citizen.get(reverse("registry:households")).status_code == 403
    assert citizen.get(reverse("registry:household", args=[household.pk])).status_code == 403
    auditor = staff_client(Role.AUDITOR)
    assert auditor.get(reverse("registry:households")).status_code == 403
    elsewhere = staff_client(Role.ENROLMENT_OFFICER, ["Mardan"])
    assert elsewhere.get(reverse("registry:household", args=[household.pk])).status_code == 404
    reader = staff_client(Role.PROGRAM_OFFICER, ["Swat"])
    _open(reader, household)
    page = reader.get(reverse("registry:household", args=[household.pk])).content.decode()
    assert reverse("registry:household_answers", args=[household.pk]) not in page
    url = reverse("registry:household_answers", args=[household.pk])
    assert reader.get(url).status_code == 403
    anonymous = Client().get(reverse("registry:households"))
    assert anonymous.status_code == 302
