"""Deterministic synthetic household registry for Khyber Pakhtunkhwa.

Everything here is made up: no real person's data is read or produced. The
generator draws households and their members the way a national socio-economic
registry would hold them (district, tehsil, union council, village; survey
answers; members with names in Latin and Urdu script, dates of birth, CNIC or
CRC numbers, mobile numbers and IBANs), vectorised with NumPy so that a million
households take well under a minute of CPU time.

Determinism: the output depends only on ``(households, seed)`` (and the
district list). Households are generated in fixed blocks of ``BLOCK_SIZE``;
block ``k`` draws from ``PCG64(SeedSequence(seed, spawn_key=(k,)))``, and the
identity numbers (CNIC/CRC, mobile, IBAN) come from running counters walked in
household order, so the batch size a caller asks for never changes a byte, and
every full block is the same whatever the total.

The documentation of every column lives in ``docs/synthetic-data.md``.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
Column = npt.NDArray[Any]
Columns = dict[str, Column]

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
SHARED_DISTRICTS_CSV: Final = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "kp_districts.csv"
)
DISTRICTS_CSV_ENV: Final = "RAHDARI_DISTRICTS_CSV"

BLOCK_SIZE: Final = 50_000
"""Households per random-number block; block ``k`` is seeded from ``(seed, k)``."""

REFERENCE_DATE: Final = np.datetime64("2025-07-01", "D")
"""The survey date: ages, adulthood (18) and CNIC/CRC are counted at this date."""

PMT_PROXY_CUTOFF: Final = 32.0
"""Households scoring at or below this on :func:`pmt_proxy_score` count as poor."""

HOUSEHOLD_COLUMNS: Final = (
    "household_id",
    "district",
    "tehsil",
    "union_council",
    "village",
    "village_ur",
    "area",
    "household_size",
    "dependants",
    "head_education_years",
    "children_5_16",
    "children_in_school",
    "rooms",
    "roof_material",
    "wall_material",
    "toilet_type",
    "water_source",
    "cooking_fuel",
    "has_tv",
    "has_fridge",
    "has_washing_machine",
    "has_motorcycle",
    "has_car",
    "has_air_conditioner",
    "land_acres",
    "cattle",
    "goats_sheep",
    "electricity_bill_pkr",
    "phone_bill_pkr",
    "has_disabled_member",
    "head_is_widow",
    "female_head",
    "government_employee_member",
    "member_travelled_abroad",
)

PERSON_COLUMNS: Final = (
    "person_id",
    "household_id",
    "member_no",
    "relationship",
    "given_name",
    "given_name_ur",
    "family_name",
    "family_name_ur",
    "father_or_husband_name",
    "father_or_husband_name_ur",
    "sex",
    "date_of_birth",
    "marital_status",
    "id_document",
    "national_id",
    "mobile",
    "iban",
    "has_disability",
)

RELATIONSHIPS: Final = (
    "head",
    "spouse",
    "son",
    "daughter",
    "father",
    "mother",
    "daughter_in_law",
    "grandchild",
    "other",
)
MARITAL_STATUSES: Final = ("never_married", "married", "widowed", "divorced")
ROOF_MATERIALS: Final = ("rcc", "t_iron_girder", "iron_sheet", "wood_mud")
WALL_MATERIALS: Final = ("burnt_brick", "stone", "mud_brick", "wood_bamboo")
TOILET_TYPES: Final = ("flush_sewer", "flush_septic", "flush_open_drain", "dry_pit", "none")
WATER_SOURCES: Final = (
    "tap",
    "motor_pump",
    "hand_pump",
    "dug_well",
    "spring",
    "surface_water",
)
COOKING_FUELS: Final = ("natural_gas", "lpg", "firewood", "dung_cake", "crop_residue")

# Mobile prefixes (the three digits after +92) with the operator's market share
# spread evenly over its prefixes. 338 is left out: libphonenumber does not
# recognise it as allocated.
MOBILE_OPERATORS: Final[dict[str, tuple[float, tuple[int, ...]]]] = {
    "jazz": (0.37, (*range(300, 310), *range(320, 330))),
    "zong": (0.26, tuple(range(310, 320))),
    "telenor": (0.23, tuple(range(340, 350))),
    "ufone": (0.135, (*range(330, 338), 339)),
    "sco": (0.005, (355,)),
}

# Bank code (as in the IBAN) and the bank's share of accounts in the data.
BANKS: Final[dict[str, float]] = {
    "HABB": 0.21,  # Habib Bank
    "ALFH": 0.11,  # Bank Alfalah
    "BPUN": 0.08,  # The Bank of Punjab
    "MEZN": 0.11,  # Meezan Bank
    "UNIL": 0.10,  # United Bank
    "NBPA": 0.10,  # National Bank of Pakistan
    "MUCB": 0.08,  # MCB Bank
    "ASCM": 0.04,  # Askari Bank
    "KHYB": 0.12,  # The Bank of Khyber
    "ABPA": 0.05,  # Allied Bank
}

# Per district: (population, Census 2023; urban share; mean of the latent
# wealth; mountainous). Populations of districts split after the census
# (Central Dir from Upper Dir; Upper and Lower South Waziristan) are estimated
# from the 2017 tehsil figures. Districts missing here (a deployment's own
# list) get the median population, 10% urban and no wealth shift.
_DISTRICT_PROFILE: Final[dict[str, tuple[int, float, float, bool]]] = {
    "Peshawar": (4_758_762, 0.40, 0.35, False),
    "Charsadda": (1_835_504, 0.167, 0.05, False),
    "Nowshera": (1_740_705, 0.223, 0.25, False),
    "Khyber": (1_146_267, 0.03, -0.35, True),
    "Mohmand": (553_933, 0.0, -0.45, True),
    "Mardan": (2_744_898, 0.185, 0.10, False),
    "Swabi": (1_894_600, 0.17, 0.15, False),
    "Swat": (2_687_384, 0.30, 0.05, True),
    "Shangla": (891_252, 0.0, -0.50, True),
    "Buner": (1_016_869, 0.0, -0.30, True),
    "Malakand": (826_250, 0.095, 0.10, True),
    "Bajaur": (1_287_960, 0.0, -0.45, True),
    "Lower Dir": (1_650_183, 0.028, -0.05, True),
    "Upper Dir": (402_000, 0.05, -0.30, True),
    "Central Dir": (682_000, 0.03, -0.25, True),
    "Lower Chitral": (320_407, 0.14, 0.0, True),
    "Upper Chitral": (195_528, 0.05, -0.10, True),
    "Abbottabad": (1_419_072, 0.22, 0.45, True),
    "Haripur": (1_174_783, 0.133, 0.40, False),
    "Mansehra": (1_797_177, 0.093, 0.05, True),
    "Battagram": (554_133, 0.0, -0.40, True),
    "Torghar": (200_445, 0.0, -0.60, True),
    "Upper Kohistan": (422_947, 0.0, -0.75, True),
    "Lower Kohistan": (340_017, 0.0, -0.70, True),
    "Kolai-Palas": (280_162, 0.0, -0.70, True),
    "Kohat": (1_234_661, 0.272, 0.15, False),
    "Hangu": (528_902, 0.197, -0.15, False),
    "Karak": (815_878, 0.072, -0.05, False),
    "Kurram": (785_434, 0.05, -0.30, True),
    "Orakzai": (387_561, 0.0, -0.45, True),
    "Bannu": (1_357_890, 0.043, -0.15, False),
    "Lakki Marwat": (1_040_856, 0.099, -0.35, False),
    "North Waziristan": (693_332, 0.03, -0.55, True),
    "Dera Ismail Khan": (1_829_811, 0.223, -0.10, False),
    "Tank": (470_293, 0.11, -0.40, False),
    "Upper South Waziristan": (380_000, 0.0, -0.65, True),
    "Lower South Waziristan": (508_675, 0.02, -0.50, True),
}

_TRADITIONS: Final = ("pashtun", "punjabi", "urdu")
_DEFAULT_TRADITION_MIX: Final = (0.85, 0.02, 0.13)
# Share of households whose naming tradition is Pashtun, Punjabi/Hindko/Saraiki
# or pan-Pakistani Urdu, where it differs from the Pashto-speaking default.
_TRADITION_MIX: Final[dict[str, tuple[float, float, float]]] = {
    "Peshawar": (0.72, 0.08, 0.20),
    "Kohat": (0.75, 0.08, 0.17),
    "Abbottabad": (0.15, 0.55, 0.30),
    "Haripur": (0.15, 0.55, 0.30),
    "Mansehra": (0.40, 0.35, 0.25),
    "Dera Ismail Khan": (0.35, 0.40, 0.25),
    "Lower Chitral": (0.15, 0.05, 0.80),
    "Upper Chitral": (0.10, 0.05, 0.85),
    "Upper Kohistan": (0.45, 0.05, 0.50),
    "Lower Kohistan": (0.45, 0.05, 0.50),
    "Kolai-Palas": (0.45, 0.05, 0.50),
}

# A constant added to every household's latent wealth. It is the one knob that
# calibrates the data: with it, about 26.6% of households score at or below
# PMT_PROXY_CUTOFF, the national registry's share under the cash-transfer cut-off.
_WEALTH_OFFSET: Final = 0.0

_VILLAGE_STEMS: Final = (
    ("Gul", "گل"),
    ("Sher", "شیر"),
    ("Mian", "میاں"),
    ("Shah", "شاہ"),
    ("Akbar", "اکبر"),
    ("Sardar", "سردار"),
    ("Kamal", "کمال"),
    ("Jalal", "جلال"),
    ("Umar", "عمر"),
    ("Nawab", "نواب"),
    ("Malik", "ملک"),
    ("Haji", "حاجی"),
    ("Rahim", "رحیم"),
    ("Ghazi", "غازی"),
    ("Pir", "پیر"),
    ("Sultan", "سلطان"),
    ("Dost", "دوست"),
    ("Fateh", "فتح"),
    ("Islam", "اسلام"),
    ("Karim", "کریم"),
    ("Mir", "میر"),
    ("Zarif", "ظریف"),
    ("Badshah", "بادشاہ"),
    ("Amir", "امیر"),
    ("Hayat", "حیات"),
    ("Qadir", "قادر"),
    ("Behram", "بہرام"),
    ("Jabbar", "جبار"),
    ("Hamid", "حامد"),
    ("Kaka", "کاکا"),
)
# "{}" is the stem. Kalay and Killi are Pashto for village, Banda a hamlet,
# Dheri a mound, Garhi a small fort, Khel a clan's settlement.
_RURAL_PATTERNS: Final = (
    ("{} Abad", "{} آباد"),
    ("{} Kalay", "{} کلے"),
    ("{} Dheri", "{} ڈھیری"),
    ("{} Banda", "{} بانڈہ"),
    ("{} Khel", "{} خیل"),
    ("Garhi {}", "گڑھی {}"),
    ("Kot {}", "کوٹ {}"),
    ("Killi {}", "کلی {}"),
    ("Banda {}", "بانڈہ {}"),
)
_URBAN_PATTERNS: Final = (
    ("Mohalla {}", "محلہ {}"),
    ("Mohalla {} Khel", "محلہ {} خیل"),
    ("{} Town", "{} ٹاؤن"),
    ("{} Colony", "{} کالونی"),
)

_CSV_UNSAFE: Final = re.compile(r'[,"\r\n]')
_PREFIX_RE: Final = re.compile(r"[1-7][0-9]")

# Role codes used while building members; RELATIONSHIPS holds the output names.
_HEAD, _SPOUSE, _FATHER, _MOTHER, _CHILD, _DIL, _GRANDCHILD, _OTHER = range(8)
_NEVER, _MARRIED, _WIDOWED, _DIVORCED = range(4)
# Index into RELATIONSHIPS per role; a child is a son or a daughter by sex.
_ROLE_RELATIONSHIP: Final = np.array([0, 1, 4, 5, 2, 6, 7, 8], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Tehsil:
    """A tehsil (sub-district), e.g. ``Tehsil("Takht Bhai", "تخت بھائی")``."""

    name: str
    name_ur: str


@dataclass(frozen=True, slots=True)
class District:
    """A district of the province, e.g. Mardan (Mardan division, CNIC prefix 16)."""

    name: str
    name_ur: str
    division: str
    merged_area: bool
    cnic_prefix: str
    tehsils: tuple[Tehsil, ...] = ()


@dataclass(frozen=True, slots=True)
class SyntheticBatch:
    """A run of consecutive households and all their members, column by column.

    ``households`` and ``persons`` map the names in HOUSEHOLD_COLUMNS and
    PERSON_COLUMNS to NumPy arrays of equal length: integers, booleans,
    floats, ``datetime64[D]`` (date of birth) or strings (object or
    StringDType arrays of ``str``). Persons are ordered by household, head first.
    """

    index: int
    first_household: int
    households: Columns
    persons: Columns

    @property
    def household_count(self) -> int:
        return int(self.households["household_id"].shape[0])

    @property
    def person_count(self) -> int:
        return int(self.persons["person_id"].shape[0])


@dataclass(frozen=True, slots=True)
class CsvSummary:
    """What :func:`write_csv` wrote."""

    households: int
    persons: int
    households_path: Path
    persons_path: Path
    bytes_written: int
    households_by_district: dict[str, int] = field(default_factory=dict)
    households_below_cutoff: int = 0

    @property
    def mean_household_size(self) -> float:
        return self.persons / self.households if self.households else 0.0

    @property
    def share_below_cutoff(self) -> float:
        return self.households_below_cutoff / self.households if self.households else 0.0


# --------------------------------------------------------------------------- reference data


def districts_csv_path(path: Path | None = None) -> Path:
    """The district file to read: ``path``, else $RAHDARI_DISTRICTS_CSV, else the packaged copy."""
    if path is not None:
        return path
    env = os.environ.get(DISTRICTS_CSV_ENV)
    if env:
        return Path(env)
    packaged = DATA_DIR / "kp_districts.csv"
    return packaged if packaged.exists() else SHARED_DISTRICTS_CSV


def load_districts(path: Path | None = None) -> list[District]:
    """Districts with their tehsils, in file order.

    Tehsils come from the packaged ``kp_tehsils.csv``; a district it does not
    list gets one tehsil named after the district (its headquarters).
    """
    return list(_load_districts(str(districts_csv_path(path))))


@lru_cache(maxsize=8)
def _load_districts(path: str) -> tuple[District, ...]:
    tehsils: dict[str, list[Tehsil]] = {}
    for row in _read_csv(DATA_DIR / "kp_tehsils.csv"):
        tehsils.setdefault(row["district"], []).append(Tehsil(row["tehsil"], row["tehsil_ur"]))
    districts: list[District] = []
    for row in _read_csv(Path(path)):
        name = row["district"]
        prefix = row["cnic_prefix"]
        if not _PREFIX_RE.fullmatch(prefix):
            raise ValueError(f"{path}: district {name!r} has CNIC prefix {prefix!r}")
        own = tehsils.get(name) or [Tehsil(name, row["district_ur"])]
        if len(own) > 9:  # the fourth CNIC digit numbers the tehsil
            raise ValueError(f"district {name!r} has more than 9 tehsils")
        districts.append(
            District(
                name=name,
                name_ur=row["district_ur"],
                division=row["division"],
                merged_area=row["merged_area"].strip().lower() in {"yes", "true", "1"},
                cnic_prefix=prefix,
                tehsils=tuple(own),
            )
        )
    if not districts:
        raise ValueError(f"{path}: no districts")
    return tuple(districts)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]
    for row in rows:
        for value in row.values():
            if _CSV_UNSAFE.search(value):
                raise ValueError(f"{path}: {value!r} holds a comma, quote or newline")
    return rows


@dataclass(frozen=True, slots=True)
class _GivenNames:
    latin: Column  # object array of str, males first then females
    urdu: Column
    # Per sex (0 male, 1 female) and tradition: indices into latin/urdu.
    order: tuple[IntArray, IntArray]
    offsets: tuple[IntArray, IntArray]
    counts: tuple[IntArray, IntArray]
    steps: tuple[IntArray, IntArray]  # per tradition: a stride coprime with the count


@dataclass(frozen=True, slots=True)
class _FamilyNames:
    latin: Column
    urdu: Column
    weights: FloatArray
    areas: tuple[frozenset[str], ...]  # empty = everywhere


@lru_cache(maxsize=1)
def _given_names() -> _GivenNames:
    latin: list[str] = []
    urdu: list[str] = []
    order: list[IntArray] = []
    offsets: list[IntArray] = []
    counts: list[IntArray] = []
    steps: list[IntArray] = []
    for filename in ("names_male.csv", "names_female.csv"):
        rows = _read_csv(DATA_DIR / filename)
        base = len(latin)
        latin += [r["name"] for r in rows]
        urdu += [r["name_ur"] for r in rows]
        groups = [
            [base + i for i, r in enumerate(rows) if r["tradition"] == t] for t in _TRADITIONS
        ]
        if not all(groups):
            raise ValueError(f"{filename}: every tradition needs at least one name")
        order.append(np.array([i for g in groups for i in g], dtype=np.int64))
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        counts.append(sizes)
        offsets.append(np.cumsum(sizes) - sizes)
        steps.append(np.array([_coprime_stride(int(k)) for k in sizes], dtype=np.int64))
    return _GivenNames(
        latin=_object_array(latin),
        urdu=_object_array(urdu),
        order=(order[0], order[1]),
        offsets=(offsets[0], offsets[1]),
        counts=(counts[0], counts[1]),
        steps=(steps[0], steps[1]),
    )


def _coprime_stride(length: int) -> int:
    """A stride near the golden ratio of ``length`` that visits every position once."""
    stride = max(1, round(length * 0.618))
    while math.gcd(stride, length) != 1:
        stride -= 1
    return stride


@lru_cache(maxsize=1)
def _family_names() -> _FamilyNames:
    rows = _read_csv(DATA_DIR / "names_family.csv")
    return _FamilyNames(
        latin=_object_array([r["name"] for r in rows]),
        urdu=_object_array([r["name_ur"] for r in rows]),
        weights=np.array([float(r["weight"]) for r in rows]),
        areas=tuple(
            frozenset() if r["areas"] == "*" else frozenset(r["areas"].split(";")) for r in rows
        ),
    )


def _object_array(values: Sequence[str]) -> Column:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class _Model:
    """Everything per district and tehsil, as arrays, derived once from the district list."""

    districts: tuple[District, ...]
    district_cdf: FloatArray
    urban_share: FloatArray
    wealth_shift: FloatArray
    mountain: BoolArray
    merged: BoolArray
    tradition_cdf: FloatArray  # (districts, 3)
    family_cdf: FloatArray  # (districts, family names)
    tehsil_offset: IntArray
    tehsil_count: IntArray
    district_names: Column
    tehsil_names: Column
    uc_count: IntArray  # per tehsil
    locality_base: IntArray  # per tehsil: first four CNIC digits * 10
    village_latin: Column  # rural names first, then urban
    village_urdu: Column
    rural_villages: int
    uc_names: Column  # "UC-1" at index 1


@lru_cache(maxsize=8)
def _model(districts: tuple[District, ...]) -> _Model:
    profiles = [_DISTRICT_PROFILE.get(d.name) for d in districts]
    known = [p[0] for p in profiles if p is not None]
    median_population = int(np.median(known)) if known else 1
    population = np.array([p[0] if p else median_population for p in profiles], dtype=np.float64)
    urban = np.array([p[1] if p else 0.10 for p in profiles])
    shift = np.array(
        [
            p[2] if p else (-0.4 if d.merged_area else 0.0)
            for p, d in zip(profiles, districts, strict=True)
        ]
    )
    mountain = np.array([p[3] if p else False for p in profiles], dtype=np.bool_)
    merged = np.array([d.merged_area for d in districts], dtype=np.bool_)
    mix = np.array([_TRADITION_MIX.get(d.name, _DEFAULT_TRADITION_MIX) for d in districts])

    family = _family_names()
    district_names = {d.name for d in districts}
    family_weights = np.zeros((len(districts), family.weights.size))
    for j, areas in enumerate(family.areas):
        for i, d in enumerate(districts):
            # An area naming a district means that district; otherwise a division.
            here = (
                not areas
                or d.name in areas
                or any(a == d.division and a not in district_names for a in areas)
            )
            family_weights[i, j] = family.weights[j] if here else 0.0

    tehsil_count = np.array([len(d.tehsils) for d in districts], dtype=np.int64)
    tehsil_offset = np.cumsum(tehsil_count) - tehsil_count
    tehsils = [(i, j, t) for i, d in enumerate(districts) for j, t in enumerate(d.tehsils)]
    # Third CNIC digit: the district's rank among districts sharing its prefix.
    rank_in_prefix: list[int] = []
    seen: dict[str, int] = {}
    for d in districts:
        seen[d.cnic_prefix] = seen.get(d.cnic_prefix, 0) + 1
        rank_in_prefix.append((seen[d.cnic_prefix] - 1) % 9 + 1)
    locality_base = np.array(
        [
            (int(districts[i].cnic_prefix) * 100 + rank_in_prefix[i] * 10 + (j + 1)) * 10
            for i, j, _ in tehsils
        ],
        dtype=np.int64,
    )
    tehsil_keys = np.arange(len(tehsils), dtype=np.uint64) + np.uint64(len(districts) << 8)
    uc_count = (20 + _mix64(tehsil_keys) % np.uint64(40)).astype(np.int64)

    rural = [(p.format(s), q.format(u)) for s, u in _VILLAGE_STEMS for p, q in _RURAL_PATTERNS]
    urban_names = [
        (p.format(s), q.format(u)) for s, u in _VILLAGE_STEMS for p, q in _URBAN_PATTERNS
    ]
    villages = rural + urban_names
    return _Model(
        districts=districts,
        district_cdf=_cdf(population),
        urban_share=urban,
        wealth_shift=shift,
        mountain=mountain,
        merged=merged,
        tradition_cdf=_cdf(mix),
        family_cdf=_cdf(family_weights),
        tehsil_offset=tehsil_offset,
        tehsil_count=tehsil_count,
        district_names=_object_array([d.name for d in districts]),
        tehsil_names=_object_array([t.name for _, _, t in tehsils]),
        uc_count=uc_count,
        locality_base=locality_base,
        village_latin=_object_array([v[0] for v in villages]),
        village_urdu=_object_array([v[1] for v in villages]),
        rural_villages=len(rural),
        uc_names=_object_array(["", *(f"UC-{n}" for n in range(1, int(uc_count.max()) + 1))]),
    )


def _cdf(weights: FloatArray) -> FloatArray:
    """Cumulative distribution along the last axis, ending exactly at 1."""
    total = weights.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("a distribution has no weight")
    cdf = np.cumsum(weights / total, axis=-1)
    cdf[..., -1] = 1.0
    return cdf


def _draw(cdf: FloatArray, u: FloatArray) -> IntArray:
    """Index drawn from one distribution for each uniform ``u``."""
    return np.searchsorted(cdf, u, side="right").astype(np.int64)


def _draw_rows(cdf: FloatArray, rows: IntArray, u: FloatArray) -> IntArray:
    """Index drawn from distribution ``cdf[rows[i]]`` for each ``u[i]``."""
    return _int64((cdf[rows] <= u[:, None]).sum(axis=1))


def _int64(values: npt.ArrayLike) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64 finaliser: a fixed, well-spread hash of 64-bit integers."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash_mod(x: IntArray, modulus: int) -> IntArray:
    return (_mix64(x.astype(np.uint64)) % np.uint64(modulus)).astype(np.int64)


def _uniform_int(u: FloatArray, low: IntArray | int, high: IntArray | int) -> IntArray:
    """Integers uniform on ``[low, high]`` (inclusive, elementwise) from uniforms ``u``."""
    span = np.maximum(np.asarray(high) - np.asarray(low) + 1, 1)
    return _int64(np.asarray(low) + np.floor(u * span))


def _logistic(x: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------- identity numbers

_CNIC_SERIALS: Final = 10**7
_CNIC_STEP: Final = 3_141_593  # coprime with 10: every walk below is a permutation
_MOBILE_STEP: Final = 2_718_281
_ACCOUNT_SERIALS: Final = 10**12
_ACCOUNT_STEP: Final = 7_777_777
_MALE_DIGITS: Final = np.array([1, 3, 5, 7, 9], dtype=np.int64)  # stdnum.pk.cnic: odd = M
_FEMALE_DIGITS: Final = np.array([2, 4, 6, 8], dtype=np.int64)  # even but not 0 = F

_PREFIXES: Final = np.array(
    [p for _, (_, ps) in MOBILE_OPERATORS.items() for p in ps], dtype=np.int64
)
_PREFIX_CDF: Final = _cdf(
    np.array([share / len(ps) for share, ps in MOBILE_OPERATORS.values() for _ in ps])
)
_BANK_CODES: Final = tuple(BANKS)
_BANK_CDF: Final = _cdf(np.array(list(BANKS.values())))


def _letters_value(code: str) -> int:
    """ISO 7064 letter conversion used by IBAN check digits (A=10 ... Z=35)."""
    return int("".join(str(int(c, 36)) for c in code))


def iban_check_digits(bank_codes: Sequence[str], accounts: IntArray) -> IntArray:
    """ISO 13616 check digits of Pakistani IBANs ``PK?? <bank> <16-digit account>``.

    ``bank_codes[i]`` (four letters) goes with ``accounts[i]`` (< 10**16);
    mod 97 is taken piecewise so that everything stays inside int64.
    """
    codes = np.array([_letters_value(c) % 97 for c in bank_codes], dtype=np.int64)
    return _iban_check(codes, accounts)


def _iban_check(bank_mod97: IntArray, accounts: IntArray) -> IntArray:
    remainder = (bank_mod97 * 10**16 + accounts) % 97
    remainder = (remainder * 10**6 + 252_000) % 97  # "PK00" -> 25 20 00
    return 98 - remainder


_BANK_MOD97: Final = np.array([_letters_value(c) % 97 for c in _BANK_CODES], dtype=np.int64)


@dataclass(slots=True)
class _Counters:
    """How many numbers each series has handed out so far, in household order.

    ``salt`` (from the seed) shifts where each series starts, so that another
    seed gives other numbers, not the same numbers to other people.
    """

    salt: int

    cnic: IntArray = field(default_factory=lambda: np.zeros(2 * 100_000, dtype=np.int64))
    mobile: IntArray = field(default_factory=lambda: np.zeros(_PREFIXES.size, dtype=np.int64))
    account: IntArray = field(default_factory=lambda: np.zeros(len(_BANK_CODES), dtype=np.int64))


def _ranks(groups: IntArray, n_groups: int) -> tuple[IntArray, IntArray]:
    """Each row's position among the earlier rows of its group, and the size of every group."""
    order = np.argsort(groups, kind="stable")
    per_group = np.bincount(groups, minlength=n_groups)
    starts = np.cumsum(per_group) - per_group
    rank = np.empty(groups.size, dtype=np.int64)
    rank[order] = np.arange(groups.size, dtype=np.int64) - starts[groups[order]]
    return rank, _int64(per_group)


def _take_numbers(counters: IntArray, groups: IntArray) -> IntArray:
    """The next free number of each row's series, rows taken in order; advances ``counters``."""
    rank, per_group = _ranks(groups, counters.size)
    numbers = counters[groups] + rank
    counters += per_group
    return numbers


def _national_ids(counters: _Counters, locality: IntArray, male: BoolArray) -> IntArray:
    """13-digit CNIC/CRC numbers: 5-digit locality, 7-digit serial, sex digit (odd = male).

    Each (locality, sex) series hands out numbers 0, 1, 2, ... in household
    order; an affine permutation of [0, digits * 10**7) turns the n-th number
    into a (serial, sex digit) pair, so no two persons ever share a number and
    members of one family do not get neighbouring ones.
    """
    groups = locality * 2 + (~male).astype(np.int64)
    index = _take_numbers(counters.cnic, groups)
    digits = np.where(male, _MALE_DIGITS.size, _FEMALE_DIGITS.size)
    space = digits * _CNIC_SERIALS
    if index.size and bool(np.any(index >= space)):
        raise OverflowError("more persons of one sex in one locality than CNIC numbers")
    permuted = (index * _CNIC_STEP + _hash_mod(groups ^ counters.salt, 10**9)) % space
    serial = permuted // digits
    last = np.where(
        male,
        _MALE_DIGITS[permuted % _MALE_DIGITS.size],
        _FEMALE_DIGITS[permuted % _FEMALE_DIGITS.size],
    )
    return _int64(locality * 10**8 + serial * 10 + last)


def _mobiles(counters: _Counters, u: FloatArray) -> Column:
    prefix_index = _draw(_PREFIX_CDF, u)
    index = _take_numbers(counters.mobile, prefix_index)
    if index.size and int(index.max()) >= 10**7:
        raise OverflowError("mobile prefix exhausted")
    prefix = _PREFIXES[prefix_index]
    subscriber = (index * _MOBILE_STEP + _hash_mod(prefix ^ counters.salt, 10**7)) % 10**7
    digits = 92 * 10**10 + prefix * 10**7 + subscriber  # 92 3xx nnnnnnn
    return np.strings.add("+", digits.astype(np.dtypes.StringDType()))


def _ibans(counters: _Counters, u_bank: FloatArray, u_branch: FloatArray) -> Column:
    bank = _draw(_BANK_CDF, u_bank)
    index = _take_numbers(counters.account, bank)
    if index.size and int(index.max()) >= _ACCOUNT_SERIALS:
        raise OverflowError("bank account serials exhausted")
    start = _hash_mod(bank ^ counters.salt, _ACCOUNT_SERIALS)
    serial = (index * _ACCOUNT_STEP + start) % _ACCOUNT_SERIALS
    branch = _uniform_int(u_branch, 1, 9_999)
    account = branch * _ACCOUNT_SERIALS + serial  # 4-digit branch + 12-digit serial
    check = _iban_check(_BANK_MOD97[bank], account)
    sdt = np.dtypes.StringDType()
    bank_codes = np.array(_BANK_CODES, dtype=sdt)[bank]
    check_text = np.strings.slice((check + 100).astype(sdt), 1, None)
    account_text = np.strings.slice((account + 10**16).astype(sdt), 1, None)
    return np.strings.add(
        np.strings.add(np.strings.add("PK", check_text), bank_codes), account_text
    )


# --------------------------------------------------------------------------- generation


def generate_batches(
    *,
    households: int,
    seed: int,
    batch_size: int = 50_000,
    districts: Sequence[District] | None = None,
) -> Iterator[SyntheticBatch]:
    """Yield ``households`` synthetic households with their members, ``batch_size`` at a time.

    The same ``(households, seed, districts)`` always yields the same values,
    whatever ``batch_size``. ``districts`` defaults to :func:`load_districts`.
    """
    if households < 0:
        raise ValueError("households must be >= 0")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    model = _model(tuple(districts) if districts is not None else _load_districts_default())
    salt = int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0] >> np.uint64(1))
    counters = _Counters(salt=salt)
    pending: list[SyntheticBatch] = []
    pending_count = 0
    batch_index = 0
    for block_index, first in enumerate(range(0, households, BLOCK_SIZE)):
        block = _generate_block(
            model, counters, seed, block_index, first, min(BLOCK_SIZE, households - first)
        )
        person_offsets = np.concatenate([[0], np.cumsum(block.households["household_size"])])
        taken = 0
        while taken < block.household_count:
            take = min(batch_size - pending_count, block.household_count - taken)
            pending.append(_slice(block, person_offsets, taken, taken + take))
            pending_count += take
            taken += take
            if pending_count == batch_size:
                yield _concat(pending, batch_index)
                batch_index += 1
                pending, pending_count = [], 0
    if pending:
        yield _concat(pending, batch_index)


def _load_districts_default() -> tuple[District, ...]:
    return _load_districts(str(districts_csv_path()))


def _slice(
    batch: SyntheticBatch, person_offsets: IntArray, start: int, stop: int
) -> SyntheticBatch:
    """Households ``start:stop`` of the batch with their members (views, no copies)."""
    if start == 0 and stop == batch.household_count:
        return batch
    person_start, person_stop = int(person_offsets[start]), int(person_offsets[stop])
    return SyntheticBatch(
        index=batch.index,
        first_household=batch.first_household + start,
        households={k: v[start:stop] for k, v in batch.households.items()},
        persons={k: v[person_start:person_stop] for k, v in batch.persons.items()},
    )


def _concat(parts: list[SyntheticBatch], index: int) -> SyntheticBatch:
    if len(parts) == 1:
        only = parts[0]
        return SyntheticBatch(index, only.first_household, only.households, only.persons)
    return SyntheticBatch(
        index=index,
        first_household=parts[0].first_household,
        households={k: np.concatenate([p.households[k] for p in parts]) for k in HOUSEHOLD_COLUMNS},
        persons={k: np.concatenate([p.persons[k] for p in parts]) for k in PERSON_COLUMNS},
    )


def _generate_block(
    model: _Model, counters: _Counters, seed: int, block_index: int, first: int, count: int
) -> SyntheticBatch:
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(block_index,)))
    )
    place = _draw_places(model, rng, count)
    household = _draw_composition(rng, place)
    members = _draw_members(rng, household)
    names = _draw_names(rng, model, place, household, members)
    identity = _draw_identity(rng, model, counters, place, members)
    survey = _draw_survey(rng, place, household, members, identity)

    number = first + np.arange(count, dtype=np.int64) + 1
    household_id = _prefixed_digits("HH", number, 10)
    hh, role, male = members.household, members.role, members.male
    households: Columns = {
        "household_id": household_id,
        "district": model.district_names[place.district],
        "tehsil": model.tehsil_names[place.tehsil],
        "union_council": model.uc_names[place.union_council],
        "village": model.village_latin[place.village],
        "village_ur": model.village_urdu[place.village],
        "area": _AREAS[place.urban.astype(np.intp)],
        "household_size": household.size,
        **survey,
        "head_is_widow": household.female_head & (household.head_marital == _WIDOWED),
        "female_head": household.female_head,
    }
    households = {name: households[name] for name in HOUSEHOLD_COLUMNS}
    given, family = _given_names(), _family_names()
    full_latin, full_urdu = _full_names()
    relationship = np.where(role == _CHILD, np.where(male, 2, 3), _ROLE_RELATIONSHIP[role])
    persons: Columns = {
        "person_id": _prefixed_digits("P", number[hh] * 100 + members.number, 12),
        "household_id": household_id[hh],
        "member_no": members.number,
        "relationship": _object_array(RELATIONSHIPS)[relationship],
        "given_name": given.latin[names.given],
        "given_name_ur": given.urdu[names.given],
        "family_name": family.latin[names.family],
        "family_name_ur": family.urdu[names.family],
        "father_or_husband_name": full_latin[names.father_or_husband],
        "father_or_husband_name_ur": full_urdu[names.father_or_husband],
        "sex": _SEXES[male.astype(np.intp)],
        "date_of_birth": identity.date_of_birth,
        "marital_status": _object_array(MARITAL_STATUSES)[members.marital],
        "id_document": _ID_DOCUMENTS[members.adult.astype(np.intp)],
        "national_id": identity.national_id,
        "mobile": identity.mobile,
        "iban": identity.iban,
        "has_disability": _disabled_members(number, household.size, survey, members),
    }
    return SyntheticBatch(
        index=block_index, first_household=first, households=households, persons=persons
    )


def _disabled_members(
    number: IntArray, size: IntArray, survey: Columns, members: _Members
) -> BoolArray:
    """Exactly one member of each household with ``has_disabled_member`` lives with a
    disability, picked by a fixed hash of the household number: no random number is
    drawn, so adding this column changed no other value."""
    mixed = _mix64(number.astype(np.uint64) ^ np.uint64(0xD15AB1ED))
    pick = (mixed % size.astype(np.uint64)).astype(np.int64) + 1
    hh = members.household
    flagged: BoolArray = np.asarray(survey["has_disabled_member"], dtype=np.bool_)[hh]
    chosen: BoolArray = members.number == pick[hh]
    return flagged & chosen


_AREAS: Final = _object_array(["rural", "urban"])
_SEXES: Final = _object_array(["F", "M"])
_ID_DOCUMENTS: Final = _object_array(["crc", "cnic"])


@dataclass(frozen=True, slots=True)
class _Places:
    district: IntArray
    tehsil: IntArray  # global tehsil index
    urban: BoolArray
    union_council: IntArray  # 1-based within the tehsil
    village: IntArray  # index into the model's village names
    mountain: BoolArray
    merged: BoolArray
    wealth: FloatArray  # the latent variable; never emitted


def _draw_places(model: _Model, rng: np.random.Generator, n: int) -> _Places:
    """Where each household lives, and its latent wealth."""
    district = _draw(model.district_cdf, rng.random(n))
    tehsil = model.tehsil_offset[district] + _uniform_int(
        rng.random(n), 0, model.tehsil_count[district] - 1
    )
    urban = rng.random(n) < model.urban_share[district]
    uc = _uniform_int(rng.random(n), 1, model.uc_count[tehsil])
    # A handful of villages (or urban mohallas) per union council; the name is a
    # fixed hash of the place, so the same village always has the same name.
    village_no = _uniform_int(rng.random(n), 0, np.where(urban, 5, 7))
    key = ((tehsil * 128 + uc) * 16 + village_no) * 2 + urban
    urban_names = model.village_latin.size - model.rural_villages
    village = np.where(
        urban,
        model.rural_villages + _hash_mod(key, urban_names),
        _hash_mod(key, model.rural_villages),
    )
    wealth = rng.standard_normal(n) + model.wealth_shift[district] + 0.6 * urban
    return _Places(
        district=district,
        tehsil=tehsil,
        urban=urban,
        union_council=uc,
        village=village,
        mountain=model.mountain[district],
        merged=model.merged[district],
        wealth=wealth + _WEALTH_OFFSET,
    )


@dataclass(frozen=True, slots=True)
class _Composition:
    """Per household: who lives there (counts per role) and the ages that tie them together."""

    size: IntArray
    female_head: BoolArray
    head_marital: IntArray
    head_age: IntArray
    spouse_age: IntArray
    father_age: IntArray
    mother_age: IntArray
    has_father: BoolArray
    has_mother: BoolArray
    has_dil: BoolArray
    counts: IntArray  # (households, 8) in role order
    youngest_child: IntArray
    oldest_child: IntArray
    son_age: IntArray
    dil_age: IntArray
    grandchild_oldest: IntArray


def _draw_composition(rng: np.random.Generator, place: _Places) -> _Composition:
    n = place.wealth.size
    # Size: 1 + negative binomial around 5.3, poorer households larger; the
    # rare draws above 15 are folded back onto 10-15 rather than piled on 15.
    mean_extra = 5.34 * np.exp(-0.10 * place.wealth)
    raw = 1 + rng.poisson(rng.gamma(8.0, mean_extra / 8.0))
    size = np.where(raw > 15, 10 + raw % 6, raw).astype(np.int64)

    female_head = rng.random(n) < np.where(size == 1, 0.25, 0.09)
    u = rng.random(n)
    head_marital = np.where(
        female_head,
        np.select([u < 0.60, u < 0.88, u < 0.94], [_WIDOWED, _MARRIED, _DIVORCED], _NEVER),
        np.select([u < 0.93, u < 0.97, u < 0.99], [_MARRIED, _WIDOWED, _NEVER], _DIVORCED),
    ).astype(np.int64)
    # A never-married head of three or more is relabelled married (men) or widowed (women).
    head_marital = np.where(
        (head_marital == _NEVER) & (size > 2),
        np.where(female_head, _WIDOWED, _MARRIED),
        head_marital,
    )
    head_age_f = rng.normal(44.0, 12.0, n) + 10.0 * (head_marital == _WIDOWED)
    head_age_f = np.where(head_marital == _NEVER, rng.normal(28.0, 5.0, n), head_age_f)
    head_age = np.clip(np.rint(head_age_f), 20, 90).astype(np.int64)

    # A wife is present in almost every married man's household; a married
    # woman heading a household usually has her husband away (often abroad).
    has_spouse = (
        (size >= 2)
        & (head_marital == _MARRIED)
        & (rng.random(n) < np.where(female_head, 0.15, 0.97))
    )
    gap = _uniform_int(rng.random(n), 2, 10)
    spouse_age = np.where(female_head, head_age + gap, np.maximum(head_age - gap, 18))
    free = size - 1 - has_spouse
    parents_possible = (head_age < 50) & (free >= 2)
    has_mother = parents_possible & (rng.random(n) < 0.30)
    has_father = parents_possible & (rng.random(n) < np.where(has_mother, 0.5, 0.05))
    free = free - has_mother - has_father
    father_age = np.minimum(head_age + _uniform_int(rng.random(n), 22, 34), 95)
    mother_age = np.minimum(head_age + _uniform_int(rng.random(n), 18, 28), 92)

    # Children were born when their mother was 18 to 45.
    mothers_age = np.where(female_head, head_age, np.where(has_spouse, spouse_age, head_age - 6))
    oldest_child = np.clip(mothers_age - 18, 0, 35)
    youngest_child = np.clip(mothers_age - 45, 0, oldest_child)
    # Older couples often live with a married son, his wife and their children.
    has_dil = (head_age >= 45) & (mothers_age >= 40) & (free >= 3) & (rng.random(n) < 0.45)
    grandchildren = np.where(has_dil, np.minimum(rng.poisson(1.8, n), free - 2), 0)
    after_dil = free - has_dil * (1 + grandchildren)
    has_other = (after_dil - 1 >= has_dil) & (after_dil >= 1) & (rng.random(n) < 0.08)
    children = after_dil - has_other
    son_age = _uniform_int(rng.random(n), 20, np.maximum(oldest_child, 20))
    dil_age = np.maximum(son_age - _uniform_int(rng.random(n), 1, 6), 18)

    counts = np.stack(
        [
            np.ones(n, dtype=np.int64),
            has_spouse,
            has_father,
            has_mother,
            children,
            has_dil,
            grandchildren,
            has_other,
        ],
        axis=1,
    ).astype(np.int64)
    return _Composition(
        size=size,
        female_head=female_head,
        head_marital=head_marital.astype(np.int64),
        head_age=head_age,
        spouse_age=spouse_age,
        father_age=father_age,
        mother_age=mother_age,
        has_father=has_father,
        has_mother=has_mother,
        has_dil=has_dil,
        counts=counts,
        youngest_child=youngest_child,
        oldest_child=oldest_child,
        son_age=son_age,
        dil_age=dil_age,
        grandchild_oldest=np.clip(dil_age - 18, 0, 20),
    )


@dataclass(frozen=True, slots=True)
class _Members:
    household: IntArray  # row of the person's household in the block
    start: IntArray  # per household: row of its head
    number: IntArray  # 1-based member number, head first
    role: IntArray
    married_son: BoolArray
    first_child: IntArray  # per household: member offset of the first child
    male: BoolArray
    age: IntArray
    adult: BoolArray
    marital: IntArray


def _draw_members(rng: np.random.Generator, household: _Composition) -> _Members:
    c = household
    n = c.size.size
    total = int(c.size.sum())
    role = np.repeat(np.tile(np.arange(8, dtype=np.int64), n), c.counts.ravel())
    hh = np.repeat(np.arange(n, dtype=np.int64), c.size)
    start = np.cumsum(c.size) - c.size
    offset = np.arange(total, dtype=np.int64) - start[hh]
    first_child = c.counts[:, :_CHILD].sum(axis=1)
    married_son = (role == _CHILD) & (offset == first_child[hh]) & c.has_dil[hh]

    coin = rng.random(total)
    male = np.select(
        [
            role == _HEAD,
            role == _SPOUSE,
            role == _FATHER,
            (role == _MOTHER) | (role == _DIL),
            married_son,
        ],
        [~c.female_head[hh], c.female_head[hh], True, False, True],
        coin < 0.515,
    ).astype(np.bool_)
    u = rng.random(total)
    age = np.select(
        [
            role == _HEAD,
            role == _SPOUSE,
            role == _FATHER,
            role == _MOTHER,
            married_son,
            role == _CHILD,
            role == _DIL,
            role == _GRANDCHILD,
        ],
        [
            c.head_age[hh],
            c.spouse_age[hh],
            c.father_age[hh],
            c.mother_age[hh],
            c.son_age[hh],
            _uniform_int(u, c.youngest_child[hh], c.oldest_child[hh]),
            c.dil_age[hh],
            _uniform_int(u, 0, c.grandchild_oldest[hh]),
        ],
        _uniform_int(u, 5, 70),  # another relative: a sibling, nephew, aunt
    ).astype(np.int64)

    # Daughters who are divorced or widowed come back to their parents' home;
    # a son's wife lives with him, so other sons are unmarried.
    u = rng.random(total)
    grown_child = np.select(
        [
            ~male & (age >= 20) & (u < 0.05),
            ~male & (age >= 20) & (u < 0.10),
            male & (age >= 25) & (u < 0.02),
        ],
        [_DIVORCED, _WIDOWED, _WIDOWED],
        _NEVER,
    )
    relative = np.select([u < 0.45, u < 0.65, u < 0.95], [_NEVER, _MARRIED, _WIDOWED], _DIVORCED)
    both_parents = (c.has_father & c.has_mother)[hh]
    marital = np.select(
        [
            role == _HEAD,
            (role == _SPOUSE) | (role == _DIL) | married_son,
            (role == _FATHER) | (role == _MOTHER),
            role == _CHILD,
            role == _OTHER,
        ],
        [
            c.head_marital[hh],
            _MARRIED,
            np.where(both_parents, _MARRIED, _WIDOWED),
            grown_child,
            relative,
        ],
        _NEVER,
    ).astype(np.int64)
    marital = np.where((age < 18) & (role != _HEAD), _NEVER, marital)
    return _Members(
        household=hh,
        start=start,
        number=offset + 1,
        role=role,
        married_son=married_son,
        first_child=first_child,
        male=male,
        age=age,
        adult=age >= 18,
        marital=marital,
    )


@dataclass(frozen=True, slots=True)
class _Names:
    given: IntArray  # index into the given-name vocabulary
    family: IntArray  # index into the family-name vocabulary
    father_or_husband: IntArray  # index into the "given family" vocabulary


def _draw_names(
    rng: np.random.Generator,
    model: _Model,
    place: _Places,
    household: _Composition,
    members: _Members,
) -> _Names:
    """Given, family and father's/husband's names that agree within the household.

    Children carry the head's family name and name him (or, under a female head,
    her husband) as father; a wife names her husband; the head's parents are
    the father and mother that the head names. Women keep their birth family name.
    """
    n, total = place.district.size, members.role.size
    hh, role, male = members.household, members.role, members.male
    given = _given_names()
    tradition = _draw_rows(model.tradition_cdf, place.district, rng.random(n))
    # Six names in ten follow the household's tradition, the rest are pan-Pakistani.
    person_tradition = np.where(rng.random(total) < 0.6, tradition[hh], 2)
    given_idx = _pick_distinct_given(given, hh, male, person_tradition, rng.random(6 * n))
    # Men named but not (always) present: the head's father and grandfather,
    # a female head's husband, and the father or husband of another relative.
    men = np.ones(n, dtype=np.bool_)
    extra = np.where(rng.random((4, n)) < 0.6, tradition, 2)
    gf, ggf, husband, aux = (_pick_given(given, men, extra[i], rng.random(n)) for i in range(4))
    given_idx = np.where(role == _FATHER, gf[hh], given_idx)
    given_idx = np.where((role == _SPOUSE) & male, husband[hh], given_idx)

    fam_head, fam_wife, fam_mother, fam_dil, fam_other = (
        _draw_rows(model.family_cdf, place.district, rng.random(n)) for _ in range(5)
    )
    within = rng.random((3, n)) < 0.5  # marriage within the family is common
    fam_wife = np.where(within[0], fam_head, fam_wife)
    fam_mother = np.where(within[1], fam_head, fam_mother)
    fam_dil = np.where(within[2], fam_head, fam_dil)
    family_idx = np.select(
        [(role == _SPOUSE) & ~male, role == _MOTHER, role == _DIL, role == _OTHER],
        [fam_wife[hh], fam_mother[hh], fam_dil[hh], fam_other[hh]],
        fam_head[hh],
    ).astype(np.int64)

    head_given = given_idx[members.start]
    son_given = given_idx[np.minimum(members.start + members.first_child, total - 1)]
    childrens_father = np.where(household.female_head, husband, head_given)
    ever_married_woman = ~male & (members.marital != _NEVER)
    fh_given = np.select(
        [
            role == _HEAD,
            (role == _SPOUSE) & ~male,
            role == _FATHER,
            role == _MOTHER,
            (role == _CHILD) & ~ever_married_woman,
            (role == _DIL) | (role == _GRANDCHILD),
        ],
        [
            np.where(ever_married_woman, husband[hh], gf[hh]),
            head_given[hh],
            ggf[hh],
            gf[hh],
            childrens_father[hh],
            son_given[hh],
        ],
        aux[hh],  # a male spouse's father; a returned daughter's husband; a relative's
    ).astype(np.int64)
    fh_family = np.where(
        ((role == _CHILD) & ever_married_woman) | (role == _OTHER), fam_other[hh], fam_head[hh]
    )
    return _Names(
        given=given_idx,
        family=family_idx,
        father_or_husband=fh_given * _family_names().latin.size + fh_family,
    )


@dataclass(frozen=True, slots=True)
class _Identity:
    date_of_birth: npt.NDArray[np.datetime64]
    national_id: Column
    mobile: Column
    iban: Column
    has_mobile: BoolArray


def _draw_identity(
    rng: np.random.Generator,
    model: _Model,
    counters: _Counters,
    place: _Places,
    members: _Members,
) -> _Identity:
    total = members.role.size
    hh, male = members.household, members.male
    # Born on one of the 365 days up to the birthday that made them `age` at REFERENCE_DATE.
    day = _uniform_int(rng.random(total), 0, 364)
    year = REFERENCE_DATE.astype("datetime64[Y]").astype(np.int64) - members.age
    birthday = (
        year.astype("datetime64[Y]").astype("datetime64[M]") + np.timedelta64(6, "M")
    ).astype("datetime64[D]")
    date_of_birth = birthday - day.astype("timedelta64[D]")

    locality = (model.locality_base[place.tehsil] + (place.union_council - 1) % 9 + 1)[hh]
    national_id = _national_ids(counters, locality, male)

    wealth = place.wealth[hh]
    sdt = np.dtypes.StringDType()
    p_mobile = np.where(male, 0.90 + 0.04 * wealth, 0.70 + 0.08 * wealth)
    has_mobile = members.adult & (rng.random(total) < np.clip(p_mobile, 0.05, 0.99))
    u_prefix = rng.random(total)
    mobile = np.full(total, "", dtype=sdt)
    mobile[has_mobile] = _mobiles(counters, u_prefix[has_mobile])

    p_bank = np.where(male, 0.48, 0.23) + 0.08 * wealth
    has_iban = members.adult & (rng.random(total) < np.clip(p_bank, 0.02, 0.95))
    u_bank, u_branch = rng.random(total), rng.random(total)
    iban = np.full(total, "", dtype=sdt)
    iban[has_iban] = _ibans(counters, u_bank[has_iban], u_branch[has_iban])
    return _Identity(
        date_of_birth=date_of_birth,
        national_id=national_id.astype(sdt),
        mobile=mobile,
        iban=iban,
        has_mobile=has_mobile,
    )


def _draw_survey(
    rng: np.random.Generator,
    place: _Places,
    household: _Composition,
    members: _Members,
    identity: _Identity,
) -> Columns:
    """The socio-economic survey answers, each leaning on the latent wealth with its own noise."""
    n, total = place.wealth.size, members.role.size
    hh, age = members.household, members.age
    wealth, urban, mountain, merged = place.wealth, place.urban, place.mountain, place.merged
    size = household.size

    school_age = (age >= 5) & (age <= 16)
    p_school = _logistic(
        1.0 + 0.9 * wealth[hh] - 0.8 * ~members.male - 0.4 * merged[hh] + 0.3 * urban[hh]
    )
    in_school = school_age & (rng.random(total) < p_school)

    def per_household(flags: BoolArray) -> IntArray:
        return np.bincount(hh, weights=flags, minlength=n).astype(np.int64)

    p_educated = _logistic(
        0.5 + 1.1 * wealth - 1.6 * household.female_head - 0.5 * (household.head_age > 60)
    )
    educated = rng.random(n) < p_educated
    level = np.clip(np.floor(2.0 + 1.1 * wealth + rng.standard_normal(n)), 0, 5)
    years = _SCHOOL_YEARS[level.astype(np.intp)]
    years = np.where(rng.random(n) < 0.1, _uniform_int(rng.random(n), 1, 4), years)

    rooms_mean = np.clip(0.5 + 0.55 * (wealth + 1.2) + 0.10 * size, 0.1, None)

    def wealth_signal(noise: float, urban_bonus: float = 0.0) -> FloatArray:
        return wealth + noise * rng.standard_normal(n) + urban_bonus * urban

    r = wealth_signal(0.8, 0.5)
    roof = np.select([r > 0.8, r > 0.0, r > -0.7], [0, 1, 2], 3)
    r = wealth_signal(0.8, 0.4)
    wall = np.where(
        r > 0.3, 0, np.where(mountain, np.where(r < -2.2, 3, 1), np.where(r < -2.4, 3, 2))
    )
    r = wealth_signal(0.8, 0.9)
    toilet = np.select([urban & (r > 0.6), r > -0.1, r > -0.6, r > -1.3], [0, 1, 2, 3], 4)
    r = wealth_signal(0.8, 0.8)
    water = np.select([r > 1.0, r > 0.2, r > -0.6, mountain, r > -1.3], [0, 1, 2, 4, 3], 5)
    r = wealth_signal(0.8)
    fuel = np.where(
        urban,
        np.select([r > -0.6, r > -1.2], [0, 1], 2),
        np.select([r > 1.3, r > 0.5, r > -1.0, mountain, rng.random(n) < 0.5], [0, 1, 2, 2, 3], 4),
    )
    has_ac = (wealth_signal(0.7, 0.5) > 1.8) & ~(mountain & (rng.random(n) < 0.7))

    rural = ~urban
    owns_land = rng.random(n) < np.where(rural, _logistic(-0.5 + 0.6 * wealth), 0.04)
    acres = np.clip(np.exp(rng.normal(-0.3 + 0.5 * wealth, 0.9)), 0.1, 200.0)
    keeps_livestock = rng.random(n) < np.where(rural, np.where(mountain, 0.65, 0.55), 0.05)
    cattle_mean = np.clip(1.0 + 0.3 * wealth + 0.4 * owns_land, 0.2, None)
    goats_mean = 1.5 + 1.5 * mountain + 1.0 * merged

    connected = rng.random(n) < np.where(merged, 0.80, 0.97)
    bill = np.exp(rng.normal(7.4 + 0.45 * wealth + 0.25 * urban + 0.04 * size, 0.5))
    bill *= 1.0 + 1.5 * has_ac
    phone = np.exp(rng.normal(5.8 + 0.25 * wealth, 0.45)) * per_household(identity.has_mobile)
    return {
        "dependants": per_household((age < 15) | (age >= 65)),
        "head_education_years": np.where(educated, years, 0).astype(np.int64),
        "children_5_16": per_household(school_age),
        "children_in_school": per_household(in_school),
        "rooms": np.clip(1 + rng.poisson(rooms_mean), 1, 12).astype(np.int64),
        "roof_material": _object_array(ROOF_MATERIALS)[roof],
        "wall_material": _object_array(WALL_MATERIALS)[wall],
        "toilet_type": _object_array(TOILET_TYPES)[toilet],
        "water_source": _object_array(WATER_SOURCES)[water],
        "cooking_fuel": _object_array(COOKING_FUELS)[fuel],
        "has_tv": wealth_signal(0.9) > -0.3,
        "has_fridge": wealth_signal(0.8, 0.4) > 0.1,
        "has_washing_machine": wealth_signal(0.9) > -0.1,
        "has_motorcycle": wealth_signal(1.0) > 0.7,
        "has_car": wealth_signal(0.8) > 2.0,
        "has_air_conditioner": has_ac,
        "land_acres": np.where(owns_land, np.round(acres, 2), 0.0),
        "cattle": np.where(keeps_livestock, np.minimum(rng.poisson(cattle_mean), 30), 0),
        "goats_sheep": np.where(keeps_livestock, np.minimum(rng.poisson(goats_mean), 80), 0),
        "electricity_bill_pkr": np.where(connected, np.minimum(np.rint(bill), 150_000), 0).astype(
            np.int64
        ),
        "phone_bill_pkr": (np.rint(phone / 10.0) * 10).astype(np.int64),
        "has_disabled_member": rng.random(n) < 0.06 + 0.01 * (size >= 8) + 0.02 * (wealth < -1),
        "government_employee_member": rng.random(n) < _logistic(-3.0 + 0.9 * wealth + 0.5 * urban),
        "member_travelled_abroad": rng.random(n) < _logistic(-3.3 + 0.7 * wealth),
    }


_SCHOOL_YEARS: Final = np.array([5, 8, 10, 12, 14, 16], dtype=np.int64)  # primary ... masters


def _pick_given(
    names: _GivenNames, male: BoolArray, tradition: IntArray, u: FloatArray
) -> IntArray:
    """One given name per row, uniform within the row's sex and tradition."""
    return _given_at(names, male, tradition, np.floor(u * _pool_size(names, male, tradition)))


def _pick_distinct_given(
    names: _GivenNames, household: IntArray, male: BoolArray, tradition: IntArray, u: FloatArray
) -> IntArray:
    """Given names such that no two members of one household share one.

    Members of a household with the same sex and tradition walk their name list
    from a random start in steps coprime with its length, so they never meet
    (a list is longer than any household). ``u`` holds six uniforms per household.
    """
    sex = (~male).astype(np.int64)
    key = (household * 2 + sex) * 3 + tradition
    rank, _ = _ranks(key, u.size)
    size = _pool_size(names, male, tradition)
    step = np.where(male, names.steps[0][tradition], names.steps[1][tradition])
    return _given_at(names, male, tradition, (np.floor(u[key] * size) + rank * step) % size)


def _pool_size(names: _GivenNames, male: BoolArray, tradition: IntArray) -> IntArray:
    return np.where(male, names.counts[0][tradition], names.counts[1][tradition])


def _given_at(
    names: _GivenNames, male: BoolArray, tradition: IntArray, position: npt.ArrayLike
) -> IntArray:
    at = np.asarray(position, dtype=np.int64)
    picks = [
        names.order[sex][
            names.offsets[sex][tradition] + np.minimum(at, names.counts[sex][tradition] - 1)
        ]
        for sex in (0, 1)
    ]
    return _int64(np.where(male, picks[0], picks[1]))


@lru_cache(maxsize=1)
def _full_names() -> tuple[Column, Column]:
    """Every "given family" pair, indexed by ``given * len(family names) + family``."""
    given, family = _given_names(), _family_names()
    latin = [f"{g} {f}" for g in given.latin.tolist() for f in family.latin.tolist()]
    urdu = [f"{g} {f}" for g in given.urdu.tolist() for f in family.urdu.tolist()]
    return _object_array(latin), _object_array(urdu)


def _prefixed_digits(prefix: str, numbers: IntArray, width: int) -> Column:
    """``prefix`` followed by ``numbers`` zero-padded to ``width`` digits."""
    text = (numbers + 10**width).astype(np.dtypes.StringDType())
    return np.strings.add(prefix, np.strings.slice(text, 1, None))


# --------------------------------------------------------------------------- scoring


_PROXY_POINTS: Final[dict[str, dict[str, float]]] = {
    "roof_material": {"rcc": 6, "t_iron_girder": 4, "iron_sheet": 2, "wood_mud": 0},
    "wall_material": {"burnt_brick": 5, "stone": 2, "mud_brick": 0, "wood_bamboo": 0},
    "toilet_type": {
        "flush_sewer": 6,
        "flush_septic": 5,
        "flush_open_drain": 3,
        "dry_pit": 1,
        "none": 0,
    },
    "water_source": {
        "tap": 4,
        "motor_pump": 4,
        "hand_pump": 2,
        "dug_well": 1,
        "spring": 1,
        "surface_water": 0,
    },
    "cooking_fuel": {
        "natural_gas": 5,
        "lpg": 4,
        "firewood": 1,
        "dung_cake": 0,
        "crop_residue": 0,
    },
}
_ASSET_POINTS: Final = {
    "has_tv": 3.0,
    "has_fridge": 4.0,
    "has_washing_machine": 3.0,
    "has_motorcycle": 4.0,
    "has_car": 8.0,
    "has_air_conditioner": 6.0,
}
_PROXY_MAX_POINTS: Final = 113.8
# Every household starts from this base; the points then fill the rest of 0-100.
# Calibrated so that about 26.6% of generated households score <= PMT_PROXY_CUTOFF.
_PROXY_BASE: Final = 11.4


def pmt_proxy_score(households: Mapping[str, Column]) -> FloatArray:
    """A transparent 0–100 stand-in for a proxy-means test, used to calibrate this generator.

    Points for the head's schooling, space per person, the share of working-age
    members, school attendance, housing, sanitation, water, fuel, assets, land and
    livestock. It is not the programme's PMT (that lives in ``programs/pmt.py``);
    it only shows that the data put about a quarter of households at or below 32.
    """
    size = np.maximum(np.asarray(households["household_size"], dtype=np.float64), 1.0)
    children = np.asarray(households["children_5_16"], dtype=np.float64)
    in_school = np.asarray(households["children_in_school"], dtype=np.float64)
    points = np.asarray(households["head_education_years"], dtype=np.float64) * 1.0
    points += np.minimum(np.asarray(households["rooms"], dtype=np.float64) / size, 1.5) * 10.0
    points += (1.0 - np.asarray(households["dependants"], dtype=np.float64) / size) * 8.0
    points += np.where(children > 0, in_school / np.maximum(children, 1.0), 1.0) * 4.0
    for column, table in _PROXY_POINTS.items():
        values = households[column]
        points += np.fromiter((table[v] for v in values.tolist()), np.float64, len(values))
    for column, weight in _ASSET_POINTS.items():
        points += np.asarray(households[column], dtype=np.float64) * weight
    points += np.minimum(np.asarray(households["land_acres"], dtype=np.float64), 12.5) * 0.8
    points += np.minimum(np.asarray(households["cattle"], dtype=np.float64), 6.0) * 0.8
    points += np.minimum(np.asarray(households["goats_sheep"], dtype=np.float64), 10.0) * 0.2
    return np.clip(_PROXY_BASE + points * ((100.0 - _PROXY_BASE) / _PROXY_MAX_POINTS), 0.0, 100.0)


# --------------------------------------------------------------------------- CSV


def write_csv(batches: Iterable[SyntheticBatch], out_dir: Path) -> CsvSummary:
    """Write ``households.csv`` and ``persons.csv`` (UTF-8, header row, ``\\n`` line ends).

    Files are written under temporary names and renamed at the end, so a crash
    never leaves a half-written file under the final name.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    households_path = out_dir / "households.csv"
    persons_path = out_dir / "persons.csv"
    households_tmp = out_dir / ".households.csv.partial"
    persons_tmp = out_dir / ".persons.csv.partial"
    household_total = person_total = below = 0
    by_district: dict[str, int] = {}
    with (
        households_tmp.open("w", encoding="utf-8", newline="") as households_file,
        persons_tmp.open("w", encoding="utf-8", newline="") as persons_file,
    ):
        households_file.write(",".join(HOUSEHOLD_COLUMNS) + "\n")
        persons_file.write(",".join(PERSON_COLUMNS) + "\n")
        for batch in batches:
            households_file.writelines(csv_lines(batch.households, HOUSEHOLD_COLUMNS))
            persons_file.writelines(csv_lines(batch.persons, PERSON_COLUMNS))
            household_total += batch.household_count
            person_total += batch.person_count
            below += int((pmt_proxy_score(batch.households) <= PMT_PROXY_CUTOFF).sum())
            names, counts = np.unique(batch.households["district"].astype(str), return_counts=True)
            for name, count in zip(names.tolist(), counts.tolist(), strict=True):
                by_district[name] = by_district.get(name, 0) + int(count)
    households_tmp.replace(households_path)
    persons_tmp.replace(persons_path)
    return CsvSummary(
        households=household_total,
        persons=person_total,
        households_path=households_path,
        persons_path=persons_path,
        bytes_written=households_path.stat().st_size + persons_path.stat().st_size,
        households_by_district=dict(sorted(by_district.items())),
        households_below_cutoff=below,
    )


def csv_lines(
    columns: Mapping[str, Column], names: Sequence[str], chunk_rows: int = 8192
) -> Iterator[str]:
    """CSV text (no header) for these columns, ``chunk_rows`` lines per piece.

    Values never need quoting: every name list is checked for commas, quotes
    and newlines when it is loaded, and the rest are numbers, codes and dates.
    """
    if not names:
        return
    cells = [_csv_cells(columns[name]) for name in names]
    rows = len(cells[0])
    for start in range(0, rows, chunk_rows):
        piece = [column[start : start + chunk_rows] for column in cells]
        yield "\n".join(map(",".join, zip(*piece, strict=True))) + "\n"


_SMALL_INTS: Final = _object_array([str(i) for i in range(4096)])
_BOOLS: Final = _object_array(["0", "1"])
_CENTS: Final = _object_array([f"{i:02d}" for i in range(100)])
_DATE_EPOCH: Final = np.datetime64("1900-01-01", "D")


@lru_cache(maxsize=1)
def _dates() -> Column:
    days = np.arange(_DATE_EPOCH, np.datetime64("2100-01-01", "D"))
    return _object_array(np.datetime_as_string(days).tolist())


def _csv_cells(values: Column) -> list[str]:
    kind = values.dtype.kind
    if kind == "b":
        return list(_BOOLS[values.astype(np.intp)].tolist())
    if kind in "iu":
        if values.size and values.min() >= 0 and values.max() < _SMALL_INTS.size:
            return list(_SMALL_INTS[values.astype(np.intp)].tolist())
        return list(map(str, values.tolist()))
    if kind == "f":
        cents = np.rint(values * 100).astype(np.int64)
        whole = _csv_cells(cents // 100)
        frac = _CENTS[(cents % 100).astype(np.intp)].tolist()
        return [f"{w}.{f}" for w, f in zip(whole, frac, strict=True)]
    if kind == "M":
        days = (values.astype("datetime64[D]") - _DATE_EPOCH).astype(np.intp)
        return list(_dates()[days].tolist())
    return list(values.tolist())
