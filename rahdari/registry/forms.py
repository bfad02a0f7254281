"""Forms of the registry pages, and the translated names of the survey's questions and
answers (survey.py holds only the English labels: it imports no Django)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rahdari.core.models import District
from rahdari.registry import survey
from rahdari.registry.models import SurveyResponse

VARIABLE_LABELS: dict[str, Any] = {
    "household_size": _("Members of the household"),
    "dependants": _("Members under 15 or 65 and over"),
    "head_education_years": _("Years of schooling of the head"),
    "children_5_16": _("Children aged 5 to 16"),
    "children_in_school": _("Children aged 5 to 16 in school"),
    "rooms": _("Rooms the household lives in"),
    "roof_material": _("Main roof material"),
    "wall_material": _("Main wall material"),
    "toilet_type": _("Toilet"),
    "water_source": _("Main drinking water"),
    "cooking_fuel": _("Main cooking fuel"),
    "has_tv": _("Owns a television"),
    "has_fridge": _("Owns a refrigerator"),
    "has_washing_machine": _("Owns a washing machine"),
    "has_motorcycle": _("Owns a motorcycle"),
    "has_car": _("Owns a car"),
    "has_air_conditioner": _("Owns an air conditioner"),
    "land_acres": _("Agricultural land, acres"),
    "cattle": _("Cows and buffaloes"),
    "goats_sheep": _("Goats and sheep"),
    "electricity_bill_pkr": _("Last monthly electricity bill, rupees"),
    "phone_bill_pkr": _("Monthly mobile phone spending, rupees"),
    "has_disabled_member": _("A member lives with a disability"),
    "head_is_widow": _("The head is a widow"),
    "female_head": _("The head is a woman"),
    "government_employee_member": _("A member is a government employee"),
    "member_travelled_abroad": _("A member travelled abroad"),
}

CATEGORY_LABELS: dict[str, Any] = {
    "rcc": _("Reinforced concrete (RCC)"),
    "t_iron_girder": _("T-iron and girders"),
    "iron_sheet": _("Iron sheets"),
    "wood_mud": _("Wood and mud"),
    "burnt_brick": _("Burnt bricks"),
    "stone": _("Stone"),
    "mud_brick": _("Mud bricks"),
    "wood_bamboo": _("Wood or bamboo"),
    "flush_sewer": _("Flush, to the sewer"),
    "flush_septic": _("Flush, to a septic tank"),
    "flush_open_drain": _("Flush, to an open drain"),
    "dry_pit": _("Dry pit latrine"),
    "none": _("No toilet"),
    "tap": _("Piped water (tap)"),
    "motor_pump": _("Motor pump"),
    "hand_pump": _("Hand pump"),
    "dug_well": _("Dug well"),
    "spring": _("Spring"),
    "surface_water": _("River, canal or pond"),
    "natural_gas": _("Natural gas"),
    "lpg": _("LPG cylinder"),
    "firewood": _("Firewood"),
    "dung_cake": _("Dung cakes"),
    "crop_residue": _("Crop residue"),
}

SOURCE_LABELS: dict[str, Any] = dict(SurveyResponse.Source.choices)


def answer_label(spec: survey.VariableSpec, value: survey.Value) -> Any:
    """How an answer reads on a page: category names and yes/no translated."""
    if spec.kind == "category":
        return CATEGORY_LABELS.get(str(value), value)
    if spec.kind == "bool":
        return _("Yes") if value else _("No")
    return value


class HouseholdFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Household number"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "text", "autocomplete": "off"}),
    )
    district = forms.ModelChoiceField(
        label=_("District"), queryset=District.objects.none(), required=False
    )

    def __init__(self, *args: Any, districts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["district"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = districts if districts is not None else District.objects.all()
        field.empty_label = _("All my districts")


class PurposeForm(forms.Form):
    purpose = forms.CharField(
        label=_("Why are you opening this household?"),
        max_length=200,
        help_text=_("The household's members can see who opened their data, when and why."),
    )


class AnswersForm(forms.Form):
    """Every survey question, filled with the current answers, and the reason for a change."""

    source = forms.ChoiceField(
        label=_("Who gives the new answers?"),
        choices=[
            (SurveyResponse.Source.OFFICER_UPDATE, _("I checked them (officer's update)")),
            (SurveyResponse.Source.SELF_DECLARED, _("The household declared them")),
        ],
        initial=SurveyResponse.Source.OFFICER_UPDATE,
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: the roof was rebuilt after the floods."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        questions: dict[str, forms.Field] = {}
        for spec in survey.SURVEY_VARIABLES:
            label = VARIABLE_LABELS.get(spec.name, spec.label_en)
            if spec.kind == "bool":
                questions[spec.name] = forms.BooleanField(label=label, required=False)
            elif spec.kind == "category":
                questions[spec.name] = forms.TypedChoiceField(
                    label=label,
                    choices=[(c, CATEGORY_LABELS.get(c, c)) for c in spec.categories],
                )
            elif spec.integer:
                questions[spec.name] = forms.IntegerField(
                    label=label,
                    min_value=None if spec.minimum is None else int(spec.minimum),
                    max_value=None if spec.maximum is None else int(spec.maximum),
                )
            else:
                questions[spec.name] = forms.FloatField(
                    label=label, min_value=spec.minimum, max_value=spec.maximum
                )
        # Questions first, then who and why.
        self.fields = {
            **questions,
            "source": self.fields["source"],
            "reason": self.fields["reason"],
        }

    def answers(self) -> dict[str, survey.Value]:
        data = self.cleaned_data
        answers: dict[str, survey.Value] = {}
        for spec in survey.SURVEY_VARIABLES:
            value = data[spec.name]
            if spec.kind == "number" and not spec.integer:
                value = int(value) if float(value).is_integer() else float(value)
            answers[spec.name] = value
        return answers
