"""Tracking numbers: the check digit catches what people get wrong on the phone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rahdari.core.tracking import (
    format_tracking_number,
    is_valid_tracking_number,
    new_tracking_number,
    normalise_tracking_number,
)


@pytest.mark.parametrize("kind", ["application", "complaint"])
def test_a_new_number_is_valid_for_its_kind_only(kind: str) -> None:
    number = new_tracking_number(kind)
    other = "complaint" if kind == "application" else "application"
    assert len(number) == 10 and number.isdigit()
    assert is_valid_tracking_number(number, kind)
    assert not is_valid_tracking_number(number, other)


@given(st.integers(min_value=0, max_value=9), st.integers(min_value=1, max_value=9))
def test_every_single_wrong_digit_is_caught(position: int, shift: int) -> None:
    number = new_tracking_number("application")
    wrong = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    assert not is_valid_tracking_number(wrong)


@given(st.integers(min_value=0, max_value=8))
def test_every_swap_of_neighbours_is_caught(position: int) -> None:
    number = new_tracking_number("complaint")
    a, b = number[position], number[position + 1]
    if a == b:
        return
    swapped = number[:position] + b + a + number[position + 2 :]
    assert not is_valid_tracking_number(swapped)


def test_read_out_forms_are_accepted() -> None:
    number = new_tracking_number("application")
    urdu = number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    arabic = number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for typed in (format_tracking_number(number), urdu, arabic, "-".join(number), f" {number} "):
        assert normalise_tracking_number(typed) == number
        assert is_valid_tracking_number(typed)
    assert format_tracking_number("2482109375") == "2482 1093 75"


@pytest.mark.parametrize(
    "text", ["", "abc", "248210937", "24821093750", "2482x09375", "²482109375"]
)
def test_malformed_numbers_are_refused(text: str) -> None:
    assert not is_valid_tracking_number(text)
