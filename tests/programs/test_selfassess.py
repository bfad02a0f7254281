"""The public self-assessment: one question per screen through the Django test client,
in English and Urdu, to "likely eligible" with the amount or the reasons why not;
answers checked against the catalogue and each other; a changed hidden state starts
over; and nothing is written anywhere (no row, no session)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from rahdari.programs import selfassess, services
from rahdari.programs.definition import SEEDED_PROGRAMS, seeded_definition
from rahdari.programs.models import Program
from rahdari.registry import survey

pytestmark = pytest.mark.django_db

Response = Any  # the test client's response

URL = "/eligibility/questions/"

# A poor rural household of six: two rooms of mud brick under iron sheets, a hand pump,
# firewood, a member with a disability, two children in school (PMT score 28.55).
POOR: dict[str, str] = {
    "area": "rural",
    "household_size": "6",
    "dependants": "3",
    "children_5_16": "3",
    "children_in_school": "2",
    "head_education_years": "2",
    "rooms": "2",
    "roof_material": "iron_sheet",
    "wall_material": "mud_brick",
    "toilet_type": "dry_pit",
    "water_source": "hand_pump",
    "cooking_fuel": "firewood",
    "has_tv": "no",
    "has_fridge": "no",
    "has_washing_machine": "no",
    "has_motorcycle": "no",
    "has_car": "no",
    "has_air_conditioner": "no",
    "land_acres": "1.5",
    "cattle": "2",
    "goats_sheep": "4",
    "electricity_bill_pkr": "1800",
    "phone_bill_pkr": "600",
    "ever_married_women": "1",
    "has_disabled_member": "yes",
    "government_employee_member": "no",
    "member_travelled_abroad": "no",
}


@pytest.fixture(autouse=True)
def programs() -> None:
    """The three published programs (a transactional test elsewhere may have emptied them)."""
    services.programs_seed()


def _tr(language: str, message: str) -> str:
    with translation.override(language):
        return translation.gettext(message)


def _hidden(response: Response, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', response.content.decode())
    assert found, f"no hidden {name} in the page"
    return html.unescape(found.group(1))


def _text(response: Response) -> str:
    """The page's words, tags stripped and spaces collapsed."""
    words = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(words))


def _steps(client: Client, answers: Mapping[str, str], language: str) -> Iterator[Response]:
    """Answer every question the pages ask, yielding each page; the last is the result."""
    response = client.get(f"{URL}?lang={language}")
    yield response
    for _ in range(60):
        if 'name="question"' not in response.content.decode() or "sa-results" in (
            response.content.decode()
        ):
            return
        question = _hidden(response, "question")
        response = client.post(
            f"{URL}?lang={language}",
            {
                "state": _hidden(response, "state"),
                "question": question,
                "answer": answers[question],
            },
        )
        assert response.status_code == 200
        yield response
    raise AssertionError("the questions never ended")


def _walk(client: Client, answers: Mapping[str, str], language: str = "en") -> Response:
    *_pages, result = _steps(client, answers, language)
    return result


def _result_of(response: Response, code: str) -> str:
    found = re.search(
        rf'<li class="sa-result [^"]*" data-program="{code}">(.*?)</li>\s*(?=<li class="sa-result|</ul>\s*<p>)',
        response.content.decode(),
        re.S,
    )
    assert found, f"no result for {code}"
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))))


def _names(language: str) -> dict[str, str]:
    return {
        code: getattr(seeded_definition(code, survey.CATALOGUE).name, language)
        for code in SEEDED_PROGRAMS
    }


# --------------------------------------------------------------------------- the flow


@pytest.mark.parametrize("language", ["en", "ur"])
def test_a_poor_household_is_likely_eligible_with_the_amount(client: Client, language: str) -> None:
    result = _walk(client, POOR, language)
    page = result.content.decode()
    assert f'lang="{language}"' in page
    assert ('dir="rtl"' in page) == (language == "ur")
    names = _names(language)

    cash = _result_of(result, "cash-transfer")
    with translation.override(language):
        likely = translation.gettext("You are likely eligible for %(name)s")
        about = translation.gettext("About Rs %(amount)s %(period)s.")
        quarter = translation.gettext("every three months")
    assert likely % {"name": names["cash-transfer"]} in cash
    assert about % {"amount": "13,500", "period": quarter} in cash
    assert _tr(language, "How to apply") in cash
    assert _tr(language, "your CNIC (identity card)") in cash
    # Two children in school: Rs 2,500 each; the person with a disability: Rs 6,000.
    assert about % {"amount": "5,000", "period": quarter} in _result_of(result, "school-top-up")
    assert about % {"amount": "6,000", "period": quarter} in _result_of(
        result, "disability-allowance"
    )
    assert _tr(language, "Nothing you answered has been saved.") in _text(result)


def test_the_questions_come_one_at_a_time_in_order_with_progress(client: Client) -> None:
    pages = list(_steps(client, POOR, "en"))
    asked = [_hidden(page, "question") for page in pages[:-1]]
    assert asked == list(POOR)
    first = _text(pages[0])
    assert "Question 1 of 27" in first
    assert "Where does your household live?" in first
    assert "Question 24 of 27" in _text(pages[23])
    assert "How many women aged 18 or more in your household are or were married?" in _text(
        pages[23]
    )
    # Pictures beside every answer, with the words always shown.
    assert _text(pages[7]).count("Iron sheets") == 1
    assert pages[7].content.decode().count('class="sa-pic"') >= 5


def test_a_member_with_a_disability_raises_the_limit(client: Client) -> None:
    # A motorcycle and three more years of school: 35.55, above 32 but within 37.
    result = _walk(client, POOR | {"has_motorcycle": "yes", "head_education_years": "5"})
    cash = _result_of(result, "cash-transfer")
    assert "You are likely eligible for Unconditional Cash Transfer" in cash
    assert (
        "A higher limit applies to your household because: "
        "A member of the household has a disability." in cash
    )
    school = _result_of(result, "school-top-up")
    assert "Probably not: School Attendance Top-up" in school
    assert "better off than the poorest households" in school
    assert "What counted most: years of school of the head of the household, a motorcycle" in school
    assert "children in school" not in school  # never a reason to keep children home


def test_a_household_with_a_car_is_told_why_not(client: Client) -> None:
    result = _walk(client, POOR | {"has_car": "yes"})
    cash = _result_of(result, "cash-transfer")
    assert "Probably not: Unconditional Cash Transfer" in cash
    assert "The household owns a car" in cash
    assert "Rs 13,500" not in cash


def test_the_reasons_are_in_the_page_language(client: Client) -> None:
    result = _walk(client, POOR | {"has_car": "yes", "member_travelled_abroad": "yes"}, "ur")
    cash = _result_of(result, "cash-transfer")
    with translation.override("ur"):
        probably = translation.gettext("Probably not: %(name)s") % {
            "name": _names("ur")["cash-transfer"]
        }
    assert probably in cash
    assert "گھرانے کے پاس گاڑی ہے" in cash  # the definition's own Urdu label
    assert "گھرانے کا کوئی فرد بیرونِ ملک سفر کر چکا ہے" in cash


def test_a_better_off_household_is_told_in_plain_words(client: Client) -> None:
    rich = POOR | {
        "area": "urban",
        "rooms": "8",
        "roof_material": "rcc",
        "wall_material": "burnt_brick",
        "toilet_type": "flush_sewer",
        "water_source": "tap",
        "cooking_fuel": "natural_gas",
        "has_tv": "yes",
        "has_fridge": "yes",
        "has_washing_machine": "yes",
        "has_air_conditioner": "yes",
        "head_education_years": "16",
        "has_disabled_member": "no",
    }
    result = _walk(client, rich)
    cash = _result_of(result, "cash-transfer")
    assert "better off than the poorest households" in cash
    assert "What counted most:" in cash
    assert "score" not in cash.lower() and "cut-off" not in cash.lower()
    disability = _result_of(result, "disability-allowance")
    assert "It is only for: The person has a disability." in disability


def test_no_woman_who_was_ever_married_fails_the_criterion(client: Client) -> None:
    cash = _result_of(_walk(client, POOR | {"ever_married_women": "0"}), "cash-transfer")
    assert "It is only for: An ever-married woman aged 18 or over lives in the household" in cash


def test_no_children_of_school_age_skips_the_school_question(client: Client) -> None:
    answers = POOR | {"children_5_16": "0"}
    pages = list(_steps(client, answers, "en"))
    asked = [_hidden(page, "question") for page in pages[:-1]]
    assert "children_in_school" not in asked
    assert "Question 4 of 27" in _text(pages[3])
    assert "Question 5 of 26" in _text(pages[4])  # the total shrinks once it is known
    school = _result_of(pages[-1], "school-top-up")
    assert "It is only for: At least one child aged 5 to 16 is enrolled in school." in school


# --------------------------------------------------------------------------- answers


def _at(client: Client, question: str, answers: Mapping[str, str], language: str) -> Response:
    for page in _steps(client, answers, language):
        if _hidden(page, "question") == question:
            return page
    raise AssertionError(f"{question} never asked")


@pytest.mark.parametrize("language", ["en", "ur"])
def test_an_answer_out_of_range_stays_on_the_question_with_an_error(
    client: Client, language: str
) -> None:
    page = _at(client, "household_size", POOR, language)
    response = client.post(
        f"{URL}?lang={language}",
        {"state": _hidden(page, "state"), "question": "household_size", "answer": "99"},
    )
    assert _hidden(response, "question") == "household_size"
    with translation.override(language):
        message = translation.gettext("Please give a number from %(low)s to %(high)s.") % {
            "low": "1",
            "high": "30",
        }
    body = response.content.decode()
    assert html.escape(message) in body or message in body
    assert 'role="alert"' in body and 'aria-invalid="true"' in body
    assert 'value="99"' in body  # what the person typed stays in the box
    assert f'lang="{language}"' in body


def test_counts_cannot_exceed_the_household(client: Client) -> None:
    page = _at(client, "dependants", POOR, "en")
    response = client.post(
        URL, {"state": _hidden(page, "state"), "question": "dependants", "answer": "7"}
    )
    assert _hidden(response, "question") == "dependants"
    assert "This cannot be more than the people in your household (6)." in _text(response)


@pytest.mark.parametrize("answer", ["", "three", "2.5", "-1"])
def test_a_count_must_be_a_whole_number(client: Client, answer: str) -> None:
    page = _at(client, "rooms", POOR, "en")
    response = client.post(
        URL, {"state": _hidden(page, "state"), "question": "rooms", "answer": answer}
    )
    assert _hidden(response, "question") == "rooms"
    assert 'role="alert"' in response.content.decode()


def test_urdu_digits_are_understood(client: Client) -> None:
    page = _at(client, "household_size", POOR, "ur")
    response = client.post(
        f"{URL}?lang=ur",
        {"state": _hidden(page, "state"), "question": "household_size", "answer": "۶"},
    )
    assert _hidden(response, "question") == "dependants"


def test_a_picture_answer_that_is_not_offered_is_refused(client: Client) -> None:
    page = _at(client, "roof_material", POOR, "en")
    response = client.post(
        URL, {"state": _hidden(page, "state"), "question": "roof_material", "answer": "gold"}
    )
    assert _hidden(response, "question") == "roof_material"
    assert "Please choose one of the pictures." in _text(response)


def test_plus_and_minus_work_without_javascript(client: Client) -> None:
    page = _at(client, "rooms", POOR, "en")
    state = _hidden(page, "state")
    more = client.post(URL, {"state": state, "question": "rooms", "answer": "2", "action": "more"})
    assert _hidden(more, "question") == "rooms"
    assert 'id="sa-answer" name="answer"' in more.content.decode()
    assert re.search(r'name="answer"[^>]*value="3"', more.content.decode())
    less = client.post(URL, {"state": state, "question": "rooms", "answer": "0", "action": "less"})
    assert re.search(r'name="answer"[^>]*value="0"', less.content.decode())  # not below 0
    bill = _at(client, "electricity_bill_pkr", POOR, "en")
    stepped = client.post(
        URL,
        {
            "state": _hidden(bill, "state"),
            "question": "electricity_bill_pkr",
            "answer": "1800",
            "action": "more",
        },
    )
    assert re.search(r'name="answer"[^>]*value="2300"', stepped.content.decode())


def test_back_shows_the_previous_question_with_its_answer(client: Client) -> None:
    page = _at(client, "roof_material", POOR, "en")
    back = client.post(
        URL, {"state": _hidden(page, "state"), "question": "roof_material", "action": "back"}
    )
    assert _hidden(back, "question") == "rooms"
    assert re.search(r'name="answer"[^>]*value="2"', back.content.decode())
    first = client.get(URL)
    start = client.post(
        URL, {"state": _hidden(first, "state"), "question": "area", "action": "back"}
    )
    assert "Can my family get support?" in _text(start)


def test_changing_an_earlier_answer_is_checked_again_before_the_result(client: Client) -> None:
    result = _walk(client, POOR)
    last = client.post(URL, {"state": _hidden(result, "state"), "action": "change"})
    assert _hidden(last, "question") == "member_travelled_abroad"
    # Go back to the household size and make it smaller than the children counted.
    state = selfassess.state_loads(_hidden(last, "state"))
    state["household_size"] = 2
    response = client.post(
        URL,
        {
            "state": selfassess.state_dumps(state),
            "question": "member_travelled_abroad",
            "answer": "no",
        },
    )
    assert _hidden(response, "question") == "dependants"
    assert "This cannot be more than the people in your household (2)." in _text(response)


def test_the_result_can_be_read_in_another_language(client: Client) -> None:
    result = _walk(client, POOR)
    again = client.post(f"{URL}?lang=ps", {"state": _hidden(result, "state"), "action": "result"})
    assert 'lang="ps"' in again.content.decode()
    assert _names("ps")["cash-transfer"] in _result_of(again, "cash-transfer")


# --------------------------------------------------------------------------- state


def test_tampered_answers_start_again_with_a_clear_message(client: Client) -> None:
    page = _at(client, "rooms", POOR, "en")
    state = _hidden(page, "state")
    forged = state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB")
    response = client.post(URL, {"state": forged, "question": "rooms", "answer": "2"})
    text = _text(response)
    assert "We could not read your answers" in text and "Please start again." in text
    assert "Start" in text
    assert 'name="question"' not in response.content.decode()


def test_tampered_answers_message_in_urdu(client: Client) -> None:
    response = client.post(f"{URL}?lang=ur", {"state": "not-a-state", "question": "rooms"})
    message = _tr(
        "ur",
        "We could not read your answers: they were changed, or they are more than a day old. "
        "Nothing was saved. Please start again.",
    )
    assert message in _text(response)


def test_the_answers_are_never_in_the_url(client: Client) -> None:
    pages = list(_steps(client, POOR, "en"))
    for page in pages:
        body = page.content.decode()
        for action in re.findall(r'action="([^"]*)"', body):
            assert "state" not in action and "answer" not in action
        assert 'method="get"' not in body.lower()


# --------------------------------------------------------------------------- nothing stored


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def test_nothing_is_written_anywhere(client: Client) -> None:
    before = _row_counts()
    with CaptureQueriesContext(connection) as queries:
        result = _walk(client, POOR | {"has_car": "yes"}, "ur")
        client.post(URL, {"state": _hidden(result, "state"), "action": "change"})
        client.post(URL, {"state": "tampered", "question": "rooms"})
    statements = [q["sql"].lstrip().split()[0].upper() for q in queries.captured_queries]
    assert statements and set(statements) <= {"SELECT"}, sorted(set(statements))
    assert _row_counts() == before
    assert "sessionid" not in client.cookies


def test_each_screen_reads_little(client: Client, django_assert_max_num_queries: Any) -> None:
    page = _at(client, "rooms", POOR, "en")
    with django_assert_max_num_queries(2):
        client.post(URL, {"state": _hidden(page, "state"), "question": "rooms", "answer": "2"})


def test_a_closed_program_is_not_assessed(client: Client) -> None:
    Program.objects.filter(code="school-top-up").update(open=False)
    result = _walk(client, POOR)
    assert 'data-program="school-top-up"' not in result.content.decode()
    assert 'data-program="cash-transfer"' in result.content.decode()


def test_with_no_program_open_the_start_page_says_so(client: Client) -> None:
    Program.objects.update(open=False)
    text = _text(client.get("/eligibility/"))
    assert "No program is open right now" in text
    assert "No program is open right now" in _text(client.get(URL))


def test_the_start_page_says_nothing_is_stored(client: Client) -> None:
    response = client.get("/eligibility/?lang=en")
    text = _text(response)
    assert "Nothing is saved" in text
    assert "About 27 questions" in text
    assert 'href="/eligibility/questions/?lang=en"' in response.content.decode()
    for code in ("en", "ur", "ps"):
        assert f'href="?lang={code}"' in response.content.decode()


def test_htmx_gets_only_the_question(client: Client) -> None:
    page = client.get(URL)
    response = client.post(
        URL,
        {"state": _hidden(page, "state"), "question": "area", "answer": "rural"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="selfassess"')
    assert "<html" not in body and "<title>" in body
    assert _hidden(response, "question") == "household_size"


# --------------------------------------------------------------------------- the plan


def test_the_plan_covers_every_variable_the_rules_read() -> None:
    definitions = [seeded_definition(code, survey.CATALOGUE) for code in SEEDED_PROGRAMS]
    plan = selfassess.plan_for(definitions)
    asked = {q.variable for q in plan.questions}
    # The person's disability is the household's answer; nothing else is left unasked.
    assert plan.needed - asked == {"has_disability"}
    assert plan.person_is_disabled
    values, assumed = selfassess.facts(plan, {k: v for k, v in _typed(POOR).items()})
    assert values["has_disability"] is True and not assumed


def test_person_questions_are_about_the_person_with_a_disability(seeded_data: Any) -> None:
    data = seeded_data("disability-allowance")
    data["criteria"].append(
        {
            "id": "adult",
            "label": {"en": "Aged 18 or more", "ur": "18 سال یا زیادہ", "ps": "18 کاله یا زیات"},
            "all": [{"variable": "age", "op": ">=", "value": 18}],
        }
    )
    from rahdari.programs.definition import definition_validate

    definition = definition_validate(data, survey.CATALOGUE)
    plan = selfassess.plan_for([definition])
    age = plan.get("age")
    assert age is not None and plan.questions[-1] is age  # person questions come last
    with_one = _typed(POOR)
    assert selfassess.applicable(plan, age, with_one)
    assert (
        str(selfassess.screen(plan, age, with_one).text)
        == "How old is the person with a disability?"
    )
    without = with_one | {"has_disabled_member": False}
    assert not selfassess.applicable(plan, age, without)
    values, assumed = selfassess.facts(plan, without)
    assert assumed == {"age"} and values["has_disability"] is False


def _typed(answers: Mapping[str, str]) -> dict[str, selfassess.Value]:
    typed: dict[str, selfassess.Value] = {}
    for name, raw in answers.items():
        question = selfassess.QUESTION_BY_VARIABLE[name]
        typed[name] = selfassess.parse_answer(question, raw, typed)
    return typed
