"""Demographic duplicate detection: names in Latin and Urdu script, date of birth,
father's/husband's name and phone, compared pair by pair after blocking.

Pure module (no Django): the identity services call :func:`candidates_for` at
enrolment on a pool they pre-filter by the blind-indexed :func:`name_key`, the
national-ID connector calls :func:`name_similarity`, and ``rahdari identity
dedup`` calls :func:`find_duplicates` on a whole registry. ``docs/dedup.md``
explains the method, the weights and how the threshold was tuned.

Exact national-ID equality is not handled here: it is a hard stop elsewhere.

One code path scores pairs: :func:`score`, :func:`candidates_for` and
:func:`find_duplicates` all run the same vectorised scorer (NumPy arrays plus
``rapidfuzz.process.cpdist``), so a pair gets the same score whichever way it
is asked for, given the same namesake counts (see :func:`name_frequencies`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.object_]

# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """The demographic fields of one person as the matcher sees them.

    Example: ``PersonRecord("P1", "Gul Bibi", "گل بی بی", "Sher Khan", "شیر خان",
    date(1986, 3, 14), 1986, "F", "Swat", "+923001234567")``.
    """

    id: str
    full_name: str  # Latin script
    full_name_ur: str  # Urdu script, '' if unknown
    guardian_name: str  # father or husband, Latin, '' if missing
    guardian_name_ur: str
    date_of_birth: date | None
    birth_year: int | None  # set even when only the year is known
    sex: str  # 'M' | 'F' | 'X'
    district: str
    mobile: str  # E.164 or ''


@dataclass(frozen=True)
class MatchScore:
    """How alike two records are: ``total`` in [0, 1] and the per-field agreements.

    ``components`` holds the agreement (0..1) of each field compared — ``name``,
    ``guardian``, ``dob``, ``phone``, ``sex``, ``district`` (a field missing on
    either side is left out) — and flags set to 1.0: ``sex_conflict`` and one
    ``dob_*`` kind (``dob_exact``, ``dob_swapped_day_month``, ``dob_year_only``,
    ``dob_off_by_one_year``, ``dob_year_digit``, ``dob_same_month``, ``dob_same_year``,
    ``dob_different``).
    """

    total: float
    components: dict[str, float]


@dataclass(frozen=True)
class DuplicatePair:
    """A suspected duplicate: record ids ``a`` < ``b`` (as the input orders them)."""

    a: str
    b: str
    score: float
    components: dict[str, float]


# --------------------------------------------------------------------------- Latin names

# Titles and honorifics that are not part of a name. "Bibi", "Begum", "Khan",
# "Syed", "Shah", "Mian", "Malik", "Sheikh" are kept: in Khyber Pakhtunkhwa they
# are part of a woman's given name (Gul Bibi, Bibi Hawa, Iqbal Begum) or a
# family/lineage name that people carry on their CNIC.
LATIN_HONORIFICS: Final = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "mst",
        "mstt",
        "musammat",
        "mussammat",
        "mosammat",
        "musammath",
        "mohtarma",
        "janab",
        "dr",
        "engr",
        "prof",
        "haji",
        "hajji",
        "alhaj",
        "alhajj",
    }
)
# Abbreviations of Muhammad written on forms.
LATIN_ABBREVIATIONS: Final = {"mohd": "muhammad", "muhd": "muhammad", "md": "muhammad"}
# Spellings of Muhammad skipped by name_key when another given name follows,
# because "Muhammad Aslam" is just as often written "M. Aslam" or "Aslam".
MUHAMMAD_LATIN: Final = frozenset(
    {
        "m",
        "muhammad",
        "mohammad",
        "mohammed",
        "muhammed",
        "mohamed",
        "mohamad",
        "muhamad",
        "mohammod",
        "muhammod",
        "mahomed",
    }
)
# Suffix tokens written apart or joined: "Rahmat Ullah" == "Rahmatullah".
_LATIN_GLUE_TO_PREVIOUS: Final = frozenset({"ullah", "ulla", "ullha"})

_RELATION_MARKER = re.compile(r"\b[sdw]\s*/\s*o\b.*$")  # "Ali s/o Gul": the rest is the father
_NOT_LETTER = re.compile(r"[^a-z]+")
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u02bc]")


def _ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def latin_tokens(name: str) -> list[str]:
    """The tokens of :func:`normalise_latin`."""
    text = _RELATION_MARKER.sub("", _ascii_fold(name))
    text = _NOT_LETTER.sub(" ", _APOSTROPHES.sub("", text))
    tokens: list[str] = []
    for raw in text.split():
        word = LATIN_ABBREVIATIONS.get(raw, raw)
        if word in LATIN_HONORIFICS:
            continue
        if tokens and word in _LATIN_GLUE_TO_PREVIOUS:
            tokens[-1] += word
        elif tokens and word == "bi" and tokens[-1] == "bi":  # "Bi Bi" is "Bibi"
            tokens[-1] = "bibi"
        else:
            tokens.append(word)
    return tokens


def normalise_latin(name: str) -> str:
    """Lower-case, ASCII-folded, titles dropped, spaces collapsed.

    ``"Mst.  Gul  Bibi"`` → ``"gul bibi"``; ``"Mohd. Aslam"`` → ``"muhammad aslam"``;
    ``"Rahmat Ullah"`` → ``"rahmatullah"``. Titles (Mr, Mst, Haji, Dr ...) are
    dropped; Bibi and Begum are kept because they are part of women's names.
    Spelling variants (Mohammad, Yusufzai) are left alone: the phonetic skeleton
    takes care of them when names are compared.
    """
    return " ".join(latin_tokens(name))


# --------------------------------------------------------------------------- Urdu names

# Arabic code points that Urdu writers use interchangeably with the Urdu ones.
_URDU_FOLD: Final = {
    "\u064a": "\u06cc",  # Arabic yeh -> Farsi yeh
    "\u0649": "\u06cc",  # alef maksura -> yeh
    "\u06d2": "\u06cc",  # yeh barree -> yeh
    "\u06d3": "\u0626",  # yeh barree with hamza -> yeh with hamza
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
    "\u0647": "\u06c1",  # Arabic heh -> heh goal
    "\u06c0": "\u06c1",  # heh with yeh above
    "\u06c2": "\u06c1",  # heh goal with hamza
    "\u06d5": "\u06c1",  # ae
    "\u0629": "\u06c3",  # teh marbuta -> teh marbuta goal
    "\u0623": "\u0627",  # alef with hamza above
    "\u0625": "\u0627",  # alef with hamza below
    "\u0671": "\u0627",  # alef wasla
    "\u0624": "\u0648",  # waw with hamza
    "\u0621": "",  # hamza: ثناء = ثنا
}
URDU_HONORIFICS: Final = frozenset(
    {"مسمات", "مسماۃ", "مسماة", "محترمہ", "جناب", "حاجی", "الحاج", "ڈاکٹر", "مسٹر", "مسز"}
)
MUHAMMAD_URDU: Final = frozenset({"محمد"})
_URDU_ALLAH: Final = "اللہ"


def _is_urdu_letter(c: str) -> bool:
    o = ord(c)
    return (0x0620 <= o <= 0x064A) or (0x066E <= o <= 0x06D3) or (0x06FA <= o <= 0x06FF)


def urdu_tokens(name: str) -> list[str]:
    """The tokens of :func:`normalise_urdu`."""
    text = unicodedata.normalize("NFKC", name)
    chars: list[str] = []
    for c in text:
        c = _URDU_FOLD.get(c, c)
        if not c:
            continue
        if unicodedata.category(c) in {"Mn", "Cf"} or c == "\u0640":
            continue  # diacritics (zer, zabar, pesh, shadda, superscript alef), ZWNJ, tatweel
        chars.append(c if _is_urdu_letter(c) else " ")
    tokens: list[str] = []
    for word in "".join(chars).split():
        if word in URDU_HONORIFICS:
            continue
        if tokens and word == _URDU_ALLAH:  # حبیب اللہ == حبیباللہ
            tokens[-1] += word
        elif tokens and word == "بی" and tokens[-1] == "بی":  # بی بی == بیبی
            tokens[-1] = "بیبی"
        else:
            tokens.append(word)
    return tokens


def normalise_urdu(name: str) -> str:
    """Urdu/Arabic letter variants folded (ي→ی, ك→ک, ه→ہ ...), diacritics, hamza and
    titles dropped, spaces collapsed: ``"مسمات  گل بي بي"`` → ``"گل بیبی"``."""
    return " ".join(urdu_tokens(name))


# --------------------------------------------------------------------------- phonetic skeleton

# The skeleton alphabet: one symbol per consonant sound as Urdu spells it, so
# the Latin and Urdu spellings of a name meet. Short vowels are not written in
# Urdu, and long vowels (ا و ی) are written inconsistently in Latin, so every
# vowel — and w/v/y, which Urdu writes with the vowel letters و and ی — is
# dropped except at the start of a word, where a vowel becomes "a" and w/y stay.
# Symbols: b p t d j c(=ch چ) x(=kh خ) S(=sh ش) s z r l m n k(=k q ک ق) g(=g gh گ غ)
# f h, and the word-initial a w y. A final h is dropped (شاہ / Shah / فاطمہ /
# Fatima all lose it) and repeated symbols collapse (Gull = Gul, محمد = Muhammad).
LATIN_DIGRAPHS: Final = {
    "kh": "x",
    "gh": "g",
    "sh": "S",
    "ch": "c",
    "zh": "z",
    "th": "t",
    "dh": "d",
    "ph": "p",
    "bh": "b",
    "jh": "j",
    "rh": "r",
}
LATIN_LETTERS: Final = {
    "a": "",
    "e": "",
    "i": "",
    "o": "",
    "u": "",
    "w": "",
    "v": "",
    "y": "",
    "b": "b",
    "c": "k",
    "d": "d",
    "f": "f",
    "g": "g",
    "h": "h",
    "j": "j",
    "k": "k",
    "l": "l",
    "m": "m",
    "n": "n",
    "p": "p",
    "q": "k",
    "r": "r",
    "s": "s",
    "t": "t",
    "x": "ks",
    "z": "z",
}
LATIN_INITIAL: Final = {
    "a": "a",
    "e": "a",
    "i": "a",
    "o": "a",
    "u": "a",
    "w": "w",
    "v": "w",
    "y": "y",
}
URDU_LETTERS: Final = {
    # vowels and the letters that write them
    "ا": "",
    "آ": "",
    "ع": "",
    "ئ": "",
    "و": "",
    "ی": "",
    "ې": "",
    "ۍ": "",
    "ھ": "",  # do-chashmi he marks aspiration: بھ = b, تھ = t (کھ is handled apart)
    # consonants
    "ب": "b",
    "پ": "p",
    "ت": "t",
    "ٹ": "t",
    "ط": "t",
    "ۃ": "t",
    "ټ": "t",
    "ث": "s",
    "س": "s",
    "ص": "s",
    "څ": "s",
    "ج": "j",
    "چ": "c",
    "ح": "h",
    "ہ": "h",
    "خ": "x",
    "د": "d",
    "ڈ": "d",
    "ډ": "d",
    "ذ": "z",
    "ز": "z",
    "ض": "z",
    "ظ": "z",
    "ژ": "z",
    "ږ": "z",
    "ځ": "z",
    "ر": "r",
    "ڑ": "r",
    "ړ": "r",
    "ش": "S",
    "ښ": "S",
    "غ": "g",
    "گ": "g",
    "ګ": "g",
    "ف": "f",
    "ق": "k",
    "ک": "k",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ں": "n",
    "ڼ": "n",
}
URDU_INITIAL: Final = {"ا": "a", "آ": "a", "ع": "a", "ئ": "a", "و": "w", "ی": "y"}


def _finish_skeleton(symbols: list[str]) -> str:
    out: list[str] = []
    for s in "".join(symbols):
        if not out or out[-1] != s:
            out.append(s)
    if len(out) > 1 and out[-1] == "h":
        out.pop()
    return "".join(out)


def _latin_word_skeleton(word: str) -> str:
    symbols: list[str] = []
    i = 0
    while i < len(word):
        pair = word[i : i + 2]
        if pair in LATIN_DIGRAPHS:
            symbols.append(LATIN_DIGRAPHS[pair])
            i += 2
            continue
        c = word[i]
        symbols.append(
            LATIN_INITIAL[c] if i == 0 and c in LATIN_INITIAL else LATIN_LETTERS.get(c, "")
        )
        i += 1
    return _finish_skeleton(symbols)


def _urdu_word_skeleton(word: str) -> str:
    symbols: list[str] = []
    for i, c in enumerate(word):
        if c == "ھ" and symbols and symbols[-1] == "k":
            symbols[-1] = "x"  # کھ is written kh in Latin, like خ
            continue
        if i == 0 and c in URDU_INITIAL:
            symbols.append(URDU_INITIAL[c])
        else:
            symbols.append(URDU_LETTERS.get(c, ""))
    return _finish_skeleton(symbols)


def _is_urdu_text(text: str) -> bool:
    return any(_is_urdu_letter(c) for c in text)


def phonetic_skeleton(text: str) -> str:
    """A script-independent key of a name: ``محمد``, ``Muhammad``, ``Mohammed`` → ``mhmd``;
    ``Yousafzai``, ``Yusufzai``, ``یوسفزئی`` → ``ysfz``. Words are keyed apart and
    joined by one space (``"Gul Khan"`` → ``"gl xn"``)."""
    if _is_urdu_text(text):
        return " ".join(filter(None, (_urdu_word_skeleton(t) for t in urdu_tokens(text))))
    return " ".join(filter(None, (_latin_word_skeleton(t) for t in latin_tokens(text))))


def name_key(full_name: str, full_name_ur: str) -> str:
    """The blocking key of a person: the skeleton of the first given name.

    Taken from the Latin name when there is one, else from the Urdu name. A
    leading Muhammad (or "M.") is skipped when another name follows, because it
    is the part most often abbreviated or left out ("M. Aslam", "Aslam") and
    because it would put a fifth of all men in one block. Vowels and spelling
    variants do not change the key (Mohammad Aslam, Muhammad Aslam, محمد اسلم →
    ``aslm``); a typo in a consonant of the first name does, which is why
    :func:`find_duplicates` also blocks on other fields.
    """
    tokens = latin_tokens(full_name)
    if tokens:
        if len(tokens) > 1 and tokens[0] in MUHAMMAD_LATIN:
            tokens = tokens[1:]
        return _latin_word_skeleton(tokens[0])
    tokens = urdu_tokens(full_name_ur)
    if tokens:
        if len(tokens) > 1 and tokens[0] in MUHAMMAD_URDU:
            tokens = tokens[1:]
        return _urdu_word_skeleton(tokens[0])
    return ""


# --------------------------------------------------------------------------- prepared names


@dataclass(frozen=True, slots=True)
class _PreparedNames:
    """Per distinct name, the strings the scorers compare ('' when absent).

    ``*_joined``: the tokens without spaces, in order (a split or joined word
    does not matter); ``*_sorted``: the tokens sorted, space-separated (word
    order does not matter). A joined skeleton is the words' skeletons end to end,
    so a word-final ہ that writes a vowel (زرمینہ) drops out as in Latin (Zarmina).
    """

    latin_joined: StrArray
    latin_sorted: StrArray
    urdu_joined: StrArray
    urdu_sorted: StrArray
    skel_latin_joined: StrArray
    skel_latin_sorted: StrArray
    skel_urdu_joined: StrArray
    skel_urdu_sorted: StrArray


def _object_array(values: list[str]) -> StrArray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _prepare_one(latin: str, urdu: str) -> tuple[str, str, str, str, str, str, str, str]:
    lt = latin_tokens(latin)
    ut = urdu_tokens(urdu)
    lj = "".join(lt)
    uj = "".join(ut)
    return (
        lj,
        " ".join(sorted(lt)),
        uj,
        " ".join(sorted(ut)),
        "".join(_latin_word_skeleton(t) for t in lt),
        " ".join(sorted(filter(None, (_latin_word_skeleton(t) for t in lt)))),
        "".join(_urdu_word_skeleton(t) for t in ut),
        " ".join(sorted(filter(None, (_urdu_word_skeleton(t) for t in ut)))),
    )


def _prepare(names: Sequence[tuple[str, str]]) -> _PreparedNames:
    cols: list[list[str]] = [[] for _ in range(8)]
    for latin, urdu in names:
        for col, value in zip(cols, _prepare_one(latin, urdu), strict=True):
            col.append(value)
    return _PreparedNames(*(_object_array(c) for c in cols))


# Evidence weights: a spelling difference read through the skeleton counts a
# little less than the same agreement in one script; a different word order or
# a missing word a little less again.
ORDER_FACTOR: Final = 0.95
SUBSET_FACTOR: Final = 0.85
SKELETON_FACTOR: Final = 0.94


_SMALL: Final = 2_000  # below this many pairs a plain loop beats starting cpdist's threads


def _pairwise(scorer: Any, left: StrArray, right: StrArray) -> FloatArray:
    if left.size < _SMALL:
        values = [scorer(a, b) for a, b in zip(left.tolist(), right.tolist(), strict=True)]
        return np.asarray(values, dtype=np.float64) / 100.0
    result = process.cpdist(
        left.tolist(), right.tolist(), scorer=scorer, dtype=np.float64, workers=-1
    )
    return np.asarray(result, dtype=np.float64) / 100.0


def _script_evidence(
    joined_a: StrArray, sorted_a: StrArray, joined_b: StrArray, sorted_b: StrArray, *, subset: bool
) -> FloatArray:
    present = (joined_a != "") & (joined_b != "")
    out = np.zeros(joined_a.size)
    if not present.any():
        return out
    ja, jb, sa, sb = joined_a[present], joined_b[present], sorted_a[present], sorted_b[present]
    best = _pairwise(fuzz.ratio, ja, jb)
    best = np.maximum(best, ORDER_FACTOR * _pairwise(fuzz.ratio, sa, sb))
    if subset:
        best = np.maximum(best, SUBSET_FACTOR * _pairwise(fuzz.token_set_ratio, sa, sb))
    out[present] = best
    return out


def _name_similarity_arrays(p: _PreparedNames, ia: IntArray, ib: IntArray) -> FloatArray:
    """Similarity of names ``ia[k]`` and ``ib[k]`` of ``p``: the best of Latin↔Latin,
    Urdu↔Urdu and the skeletons (Latin and Urdu, either side), in [0, 1]."""
    best = _script_evidence(
        p.latin_joined[ia],
        p.latin_sorted[ia],
        p.latin_joined[ib],
        p.latin_sorted[ib],
        subset=True,
    )
    best = np.maximum(
        best,
        _script_evidence(
            p.urdu_joined[ia],
            p.urdu_sorted[ia],
            p.urdu_joined[ib],
            p.urdu_sorted[ib],
            subset=True,
        ),
    )
    skeletons = (
        (p.skel_latin_joined, p.skel_latin_sorted),
        (p.skel_urdu_joined, p.skel_urdu_sorted),
    )
    for ja, sa in skeletons:
        for jb, sb in skeletons:
            evidence = _script_evidence(ja[ia], sa[ia], jb[ib], sb[ib], subset=False)
            best = np.maximum(best, SKELETON_FACTOR * evidence)
    same = ia == ib
    best[same & (best > 0)] = 1.0  # the very same name (guards float rounding)
    return best


def name_similarity(a_latin: str, a_urdu: str, b_latin: str, b_urdu: str) -> float:
    """How alike two names are, 0..1, whatever script each is written in.

    The best of: Latin against Latin and Urdu against Urdu after
    normalisation (identical → 1.0, one typo in a 15-letter name ≈ 0.93), and
    the phonetic skeletons of either script against each other (a
    transliteration variant — Mohammad/Muhammad, Yusufzai/Yousafzai,
    Muhammad/محمد — ≈ 0.94). Word order ("Ali Muhammad" / "Muhammad Ali")
    gives 0.95; a missing word ("Muhammad Aslam" / "Muhammad Aslam Khan") ≈ 0.85.
    """
    p = _prepare([(a_latin, a_urdu), (b_latin, b_urdu)])
    if p.latin_joined[0] == p.latin_joined[1] and p.urdu_joined[0] == p.urdu_joined[1]:
        return 1.0 if (p.latin_joined[0] or p.urdu_joined[0]) else 0.0
    return float(_name_similarity_arrays(p, np.array([0]), np.array([1]))[0])


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each field counts. The total is an evidence-weighted mean of the
    per-field agreements (each 0..1):

        total = sum(weight * agreement) / sum(weight)

    over the fields that at least one of the two records carries. A field both
    records lack is left out, so identical records score 1.0 however little
    they hold. A field only one record carries counts with ``missing_agreement``
    (unknown: neither for nor against), so a sparse record cannot reach a high
    score on a name alone. The phone, sex and district weigh differently when
    they agree and when they disagree: one shared number is strong evidence,
    while people change numbers; a shared district says little (most duplicates
    are enrolled where the person lives), another district says a lot against.
    Tuned on ``benchmarks/dedup.py`` (docs/dedup.md).
    """

    name: float = 0.45
    guardian: float = 0.35
    dob: float = 0.55
    dob_year: float = 0.16  # the part of ``dob`` that the birth year alone carries
    phone_agree: float = 2.0
    phone_disagree: float = 0.05
    sex_agree: float = 0.05
    sex_conflict: float = 0.30
    district_agree: float = 0.10
    district_disagree: float = 0.30
    name_floor: float = 0.5  # name similarity at or below this counts as no agreement
    guardian_floor: float = 0.85  # the same for the father's/husband's name
    missing_agreement: float = 0.5
    # Namesakes: how many records of the registry share the pair's name and
    # father's/husband's name (phonetically). A combination held by the pair
    # alone agrees fully; each doubling beyond that takes 1/namesake_span off.
    # Left out when there is no registry to count in (a bare :func:`score`).
    namesakes: float = 0.2
    namesake_span: float = 16.0


WEIGHTS: Final = Weights()

# Date-of-birth agreement levels when both dates are complete: (component flag, agreement).
# dob_year_only: one or both records hold only the year; the year then agrees
# 1.0 (same), 0.5 (a year apart) or 0.0.
DOB_LEVELS: Final = (
    ("dob_exact", 1.0),
    ("dob_swapped_day_month", 0.85),
    ("dob_off_by_one_year", 0.5),
    ("dob_year_digit", 0.3),
    ("dob_day_or_month_differs", 0.3),
    ("dob_same_year", 0.1),
    ("dob_different", 0.0),
    ("dob_year_only", 1.0),
)
(
    _DOB_EXACT,
    _DOB_SWAPPED,
    _DOB_OFF_BY_ONE,
    _DOB_YEAR_DIGIT,
    _DOB_PART,
    _DOB_SAME_YEAR,
    _DOB_DIFFERENT,
    _DOB_YEAR_ONLY,
) = range(len(DOB_LEVELS))

REVIEW_THRESHOLD: Final = 0.84
"""Pairs scoring at or above this go to the officers' review queue."""


@dataclass(frozen=True, slots=True)
class _Features:
    """The records as arrays; names are interned in ``names``."""

    ids: list[str]
    names: _PreparedNames
    name_id: IntArray
    guardian_id: IntArray  # -1: no father/husband name
    ordinal: IntArray  # date of birth as a proleptic ordinal, -1 if not known
    year: IntArray  # -1 if not known
    month: IntArray
    day: IntArray
    sex: IntArray  # 0 male, 1 female, -1 other or unknown
    district: IntArray  # -1 if empty
    mobile: IntArray  # -1 if empty
    # Blocking keys, one code space for both scripts (a skeleton is a skeleton), -1 if missing:
    # the first given name's skeleton, the whole name's skeleton (words sorted) and its
    # first symbol, each from the Latin and from the Urdu name; the guardian's skeleton.
    key_latin: IntArray
    key_urdu: IntArray
    skeleton_latin: IntArray
    skeleton_urdu: IntArray
    initial_latin: IntArray
    initial_urdu: IntArray
    guardian_key: IntArray
    namesakes: IntArray  # records sharing this one's name + guardian skeletons; -1 unknown


class _Interner:
    def __init__(self) -> None:
        self.codes: dict[Any, int] = {}

    def code(self, value: Any) -> int:
        return self.codes.setdefault(value, len(self.codes))


def _blocking_keys(latin: str, urdu: str) -> tuple[str, str, str, str]:
    """(first-name key from Latin, from Urdu, whole-name skeleton from Latin, from Urdu)."""
    return (
        name_key(latin, ""),
        name_key("", urdu),
        " ".join(sorted(filter(None, (_latin_word_skeleton(t) for t in latin_tokens(latin))))),
        " ".join(sorted(filter(None, (_urdu_word_skeleton(t) for t in urdu_tokens(urdu))))),
    )


NameFrequencies = Mapping[tuple[str, str], int]
"""(whole-name skeleton, guardian skeleton or '') → how many records carry it."""


def _namesake_key(latin: str, urdu: str) -> str:
    """The whole name's skeleton, words sorted, from Latin if there is one, else from Urdu."""
    key_l, key_u, skel_l, skel_u = _blocking_keys(latin, urdu)
    return skel_l or skel_u


def name_frequencies(records: Iterable[PersonRecord]) -> dict[tuple[str, str], int]:
    """How many of ``records`` share each (name, father's/husband's name) skeleton pair:
    the context that :func:`score` and :func:`candidates_for` take as ``frequencies``."""
    cache: dict[tuple[str, str], str] = {}

    def key(latin: str, urdu: str) -> str:
        if (latin, urdu) not in cache:
            cache[(latin, urdu)] = _namesake_key(latin, urdu)
        return cache[(latin, urdu)]

    counts: dict[tuple[str, str], int] = {}
    for r in records:
        has_guardian = bool(r.guardian_name.strip() or r.guardian_name_ur.strip())
        k = (
            key(r.full_name, r.full_name_ur),
            key(r.guardian_name, r.guardian_name_ur) if has_guardian else "",
        )
        counts[k] = counts.get(k, 0) + 1
    return counts


def _features(
    records: Sequence[PersonRecord],
    frequencies: NameFrequencies | None = None,
    *,
    count_namesakes: bool = False,
) -> _Features:
    """``frequencies`` or, with ``count_namesakes``, the records themselves give the
    namesake counts; with neither they are unknown (-1)."""
    n = len(records)
    names = _Interner()
    name_id = np.empty(n, dtype=np.int64)
    guardian_id = np.empty(n, dtype=np.int64)
    ordinal = np.full(n, -1, dtype=np.int64)
    year = np.full(n, -1, dtype=np.int64)
    month = np.full(n, -1, dtype=np.int64)
    day = np.full(n, -1, dtype=np.int64)
    sexes = np.empty(n, dtype=np.int64)
    districts = _Interner()
    district = np.empty(n, dtype=np.int64)
    mobiles = _Interner()
    mobile = np.empty(n, dtype=np.int64)
    sex_codes = {"M": 0, "F": 1}
    for k, r in enumerate(records):
        name_id[k] = names.code((r.full_name, r.full_name_ur))
        has_guardian = bool(r.guardian_name.strip() or r.guardian_name_ur.strip())
        guardian_id[k] = names.code((r.guardian_name, r.guardian_name_ur)) if has_guardian else -1
        dob = r.date_of_birth
        if dob is not None:
            ordinal[k] = dob.toordinal()
            year[k], month[k], day[k] = dob.year, dob.month, dob.day
        elif r.birth_year is not None:
            year[k] = r.birth_year
        sexes[k] = sex_codes.get(r.sex, -1)
        district[k] = districts.code(r.district) if r.district else -1
        mobile[k] = mobiles.code(r.mobile) if r.mobile else -1

    distinct = list(names.codes)
    prepared = _prepare(distinct)
    keys = _Interner()
    per_name = np.full((len(distinct), 6), -1, dtype=np.int64)
    for k, (latin, urdu) in enumerate(distinct):
        key_l, key_u, skel_l, skel_u = _blocking_keys(latin, urdu)
        for col, value in enumerate((key_l, key_u, skel_l, skel_u, skel_l[:1], skel_u[:1])):
            if value:
                per_name[k, col] = keys.code(value)
    by_record = per_name[name_id]
    # The guardian's skeleton from Latin, else from Urdu.
    guardian_skel = np.where(per_name[:, 2] >= 0, per_name[:, 2], per_name[:, 3])
    guardian_key = np.where(guardian_id >= 0, guardian_skel[np.maximum(guardian_id, 0)], -1)
    name_skel = np.where(by_record[:, 2] >= 0, by_record[:, 2], by_record[:, 3])
    namesakes = np.full(n, -1, dtype=np.int64)
    if count_namesakes and n:
        _, inverse = _unique_inverse(name_skel * (len(keys.codes) + 2) + guardian_key + 1)
        namesakes = np.bincount(inverse)[inverse].astype(np.int64)
    elif frequencies is not None:
        skeleton_of = [_namesake_key(latin, urdu) for latin, urdu in distinct]
        for k in range(n):
            g = int(guardian_id[k])
            key = (skeleton_of[int(name_id[k])], skeleton_of[g] if g >= 0 else "")
            namesakes[k] = max(frequencies.get(key, 1), 1)
    return _Features(
        ids=[r.id for r in records],
        names=prepared,
        name_id=name_id,
        guardian_id=guardian_id,
        ordinal=ordinal,
        year=year,
        month=month,
        day=day,
        sex=sexes,
        district=district,
        mobile=mobile,
        key_latin=by_record[:, 0],
        key_urdu=by_record[:, 1],
        skeleton_latin=by_record[:, 2],
        skeleton_urdu=by_record[:, 3],
        initial_latin=by_record[:, 4],
        initial_urdu=by_record[:, 5],
        guardian_key=guardian_key,
        namesakes=namesakes,
    )


_CHUNK: Final = 1_000_000


# np.unique is slow on tens of millions of int64 (numpy 2.4); a sort and a mask are not.
def _unique(values: IntArray) -> IntArray:
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered
    first = np.empty(ordered.size, dtype=np.bool_)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def _unique_inverse(values: IntArray) -> tuple[IntArray, IntArray]:
    """The sorted distinct values and, per value, its index among them."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(ordered.size, dtype=np.bool_)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(values.size, dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _interned_similarity(names: _PreparedNames, a: IntArray, b: IntArray) -> FloatArray:
    """Name similarity for interned name ids, each distinct pair computed once."""
    out = np.zeros(a.size)
    present = (a >= 0) & (b >= 0)
    if not present.any():
        return out
    size = max(names.latin_joined.size, 1)
    lo = np.minimum(a[present], b[present])
    hi = np.maximum(a[present], b[present])
    unique, inverse = _unique_inverse(lo * size + hi)
    ua, ub = unique // size, unique % size
    sims = _name_similarity_arrays(names, ua, ub)
    out[present] = sims[inverse]
    return out


@dataclass(frozen=True, slots=True)
class _Comparison:
    """Field-by-field comparison of pairs, before weighting (nan: not comparable)."""

    name: FloatArray  # similarity 0..1
    guardian: FloatArray  # similarity; nan when either lacks a guardian name
    guardian_one_sided: BoolArray  # exactly one record has a guardian name
    dob_level: IntArray  # index into DOB_LEVELS; -1 when either lacks a birth year
    year_agreement: FloatArray  # 1 same year, 0.5 a year apart, 0 else; nan if unknown
    dob_one_sided: BoolArray  # one complete date against a year only
    dob_missing_one_side: BoolArray  # a birth year on one side only
    phone: FloatArray  # 1 same, 0 different, nan when either lacks one
    sex: FloatArray  # 1 same, 0 different, nan when either is unknown/X
    district: FloatArray  # 1 same, 0 different, nan when either is empty
    namesakes: FloatArray  # the larger namesake count of the two; nan when unknown


def _one_digit_apart(x: IntArray, y: IntArray) -> BoolArray:
    """Years that differ in exactly one decimal digit (1985/1995, 1985/1988)."""
    diff = np.zeros(x.size, dtype=np.int64)
    xx, yy = x.copy(), y.copy()
    for _ in range(4):
        diff += (xx % 10) != (yy % 10)
        xx //= 10
        yy //= 10
    return np.asarray(diff == 1, dtype=np.bool_)


def _equal_or_nan(x: IntArray, y: IntArray) -> FloatArray:
    return np.where((x >= 0) & (y >= 0), (x == y).astype(np.float64), np.nan)


def _compare(f: _Features, i: IntArray, j: IntArray) -> _Comparison:
    n = i.size
    name = _interned_similarity(f.names, f.name_id[i], f.name_id[j])
    gi, gj = f.guardian_id[i], f.guardian_id[j]
    has_guardian = (gi >= 0) & (gj >= 0)
    guardian = np.full(n, np.nan)
    guardian[has_guardian] = _interned_similarity(f.names, gi[has_guardian], gj[has_guardian])

    yi, yj = f.year[i], f.year[j]
    both_years = (yi >= 0) & (yj >= 0)
    both_dates = (f.ordinal[i] >= 0) & (f.ordinal[j] >= 0)
    mi, mj, di, dj = f.month[i], f.month[j], f.day[i], f.day[j]
    same_year = yi == yj
    same_md = (mi == mj) & (di == dj)
    level = np.select(
        [
            ~both_years,
            ~both_dates,
            f.ordinal[i] == f.ordinal[j],
            same_year & (mi == dj) & (di == mj),
            same_md & (np.abs(yi - yj) == 1),
            same_md & _one_digit_apart(yi, yj),
            same_year & ((mi == mj) | (di == dj)),
            same_year,
        ],
        [
            -1,
            _DOB_YEAR_ONLY,
            _DOB_EXACT,
            _DOB_SWAPPED,
            _DOB_OFF_BY_ONE,
            _DOB_YEAR_DIGIT,
            _DOB_PART,
            _DOB_SAME_YEAR,
        ],
        _DOB_DIFFERENT,
    ).astype(np.int64)
    gap = np.abs(yi - yj)
    year_agreement = np.where(both_years, np.select([gap == 0, gap == 1], [1.0, 0.5], 0.0), np.nan)
    has_date_i, has_date_j = f.ordinal[i] >= 0, f.ordinal[j] >= 0
    return _Comparison(
        name=name,
        guardian=guardian,
        guardian_one_sided=(gi >= 0) != (gj >= 0),
        dob_level=level,
        year_agreement=year_agreement,
        dob_one_sided=both_years & (has_date_i != has_date_j),
        dob_missing_one_side=(yi >= 0) != (yj >= 0),
        phone=_equal_or_nan(f.mobile[i], f.mobile[j]),
        sex=_equal_or_nan(f.sex[i], f.sex[j]),
        district=_equal_or_nan(f.district[i], f.district[j]),
        namesakes=np.where(
            (f.namesakes[i] >= 0) & (f.namesakes[j] >= 0),
            np.maximum(f.namesakes[i], f.namesakes[j]).astype(np.float64),
            np.nan,
        ),
    )


def _agreement(similarity: FloatArray, floor: float) -> FloatArray:
    return np.clip((similarity - floor) / (1.0 - floor), 0.0, 1.0)


def _dob_agreement(c: _Comparison, w: Weights) -> tuple[FloatArray, FloatArray]:
    """(agreement, weight) of the date of birth."""
    level_agreement = np.array([a for _, a in DOB_LEVELS])
    both_dates = (c.dob_level >= 0) & (c.dob_level != _DOB_YEAR_ONLY)
    year = np.nan_to_num(c.year_agreement)
    # A complete date against a year only: the year part is known, the rest is not.
    one_sided = (w.dob_year * year + (w.dob - w.dob_year) * w.missing_agreement) / w.dob
    agreement = np.select(
        [both_dates, c.dob_one_sided, c.dob_level == _DOB_YEAR_ONLY, c.dob_missing_one_side],
        [level_agreement[np.maximum(c.dob_level, 0)], one_sided, year, w.missing_agreement],
        np.nan,
    )
    weight = np.select(
        [both_dates | c.dob_one_sided | c.dob_missing_one_side, c.dob_level == _DOB_YEAR_ONLY],
        [w.dob, w.dob_year],
        0.0,
    )
    return agreement, weight


def _combine(c: _Comparison, w: Weights = WEIGHTS) -> FloatArray:
    """The total score of compared pairs under weights ``w``."""
    num = w.name * _agreement(c.name, w.name_floor)
    den = np.full(c.name.size, w.name)

    has_guardian = ~np.isnan(c.guardian)
    guardian = _agreement(np.nan_to_num(c.guardian), w.guardian_floor)
    num += np.select(
        [has_guardian, c.guardian_one_sided],
        [w.guardian * guardian, w.guardian * w.missing_agreement],
        0.0,
    )
    den += np.where(has_guardian | c.guardian_one_sided, w.guardian, 0.0)

    dob, dob_weight = _dob_agreement(c, w)
    num += dob_weight * np.nan_to_num(dob)
    den += dob_weight

    for value, agree, disagree in (
        (c.phone, w.phone_agree, w.phone_disagree),
        (c.sex, w.sex_agree, w.sex_conflict),
        (c.district, w.district_agree, w.district_disagree),
    ):
        num += np.where(value == 1.0, agree, 0.0)
        den += np.select([value == 1.0, value == 0.0], [agree, disagree], 0.0)
    known = ~np.isnan(c.namesakes)
    doublings = np.log2(np.maximum(np.nan_to_num(c.namesakes), 2.0) / 2.0)
    rarity = np.clip(1.0 - doublings / w.namesake_span, 0.0, 1.0)
    num += np.where(known, w.namesakes * rarity, 0.0)
    den += np.where(known, w.namesakes, 0.0)
    total: FloatArray = num / den
    return total


def _take(c: _Comparison, k: IntArray) -> _Comparison:
    return _Comparison(*(getattr(c, name)[k] for name in _Comparison.__slots__))


def _concat(parts: list[_Comparison]) -> _Comparison:
    return _Comparison(
        *(np.concatenate([getattr(p, name) for p in parts]) for name in _Comparison.__slots__)
    )


def _components(c: _Comparison, k: int, w: Weights = WEIGHTS) -> dict[str, float]:
    """The officer-facing breakdown of pair ``k``: similarities and flags."""
    out: dict[str, float] = {"name": round(float(c.name[k]), 4)}
    one = _take(c, np.array([k]))
    dob, dob_weight = _dob_agreement(one, w)
    for label, value in (
        ("guardian", float(c.guardian[k])),
        ("dob", float(dob[0]) if dob_weight[0] > 0 else float("nan")),
        ("phone", float(c.phone[k])),
        ("sex", float(c.sex[k])),
        ("district", float(c.district[k])),
    ):
        if not np.isnan(value):
            out[label] = round(value, 4)
    if c.guardian_one_sided[k]:
        out["guardian_missing"] = 1.0
    if int(c.dob_level[k]) >= 0:
        out[DOB_LEVELS[int(c.dob_level[k])][0]] = 1.0
    elif c.dob_missing_one_side[k]:
        out["dob_missing"] = 1.0
    if out.get("sex") == 0.0:
        out["sex_conflict"] = 1.0
    if not np.isnan(c.namesakes[k]):
        out["namesakes"] = float(c.namesakes[k])
    return out


def score(
    a: PersonRecord, b: PersonRecord, *, frequencies: NameFrequencies | None = None
) -> MatchScore:
    """How likely ``a`` and ``b`` are the same person: 0..1 with the per-field evidence.

    ``frequencies`` (from :func:`name_frequencies` over the registry) lets a name
    and father's name that many people share count for less; without it the
    namesake component is left out.
    """
    c = _compare(_features([a, b], frequencies), np.array([0]), np.array([1]))
    return MatchScore(total=float(_combine(c)[0]), components=_components(c, 0))


def candidates_for(
    new: PersonRecord,
    pool: Iterable[PersonRecord],
    threshold: float = REVIEW_THRESHOLD,
    *,
    frequencies: NameFrequencies | None = None,
) -> list[tuple[PersonRecord, MatchScore]]:
    """The records of ``pool`` that ``new`` may duplicate, best first.

    The caller pre-filters the pool (blocking keys: district, birth year,
    :func:`name_key`, phone); records with ``new``'s own id are skipped.
    Namesakes are counted in ``frequencies`` if given, else in ``new`` and the
    pool (the people the new record could be confused with).
    """
    others = [r for r in pool if r.id != new.id]
    if not others:
        return []
    records = [new, *others]
    f = _features(records, frequencies, count_namesakes=frequencies is None)
    j = np.arange(1, len(others) + 1, dtype=np.int64)
    c = _compare(f, np.zeros(j.size, dtype=np.int64), j)
    total = _combine(c)
    hits = np.flatnonzero(total >= threshold)
    hits = hits[np.argsort(-total[hits], kind="stable")]
    return [
        (others[k], MatchScore(total=float(total[k]), components=_components(c, int(k))))
        for k in hits
    ]


# --------------------------------------------------------------------------- blocking

BLOCK_WINDOW: Final = 400
"""Within a block, each record is compared with the next BLOCK_WINDOW records
(ordered by name skeleton); blocks up to BLOCK_WINDOW + 1 records are compared in full."""


def _block_pairs(
    keys: Sequence[IntArray], valid: BoolArray, secondary: IntArray, n: int
) -> IntArray:
    """Pairs ``lo * n + hi`` of valid records that agree on every key."""
    idx = np.flatnonzero(valid)
    if idx.size < 2:
        return np.zeros(0, dtype=np.int64)
    order = idx[np.lexsort((secondary[idx], *(k[idx] for k in reversed(keys))))]
    sorted_keys = [k[order] for k in keys]
    new_group = np.ones(order.size, dtype=np.bool_)
    new_group[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in sorted_keys])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], order.size)
    group_end = np.repeat(ends, ends - starts)
    positions = np.arange(order.size, dtype=np.int64)
    later = np.minimum(group_end - positions - 1, BLOCK_WINDOW)
    total = int(later.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    left = np.repeat(positions, later)
    step = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(later) - later, later) + 1
    a, b = order[left], order[left + step]
    codes: IntArray = np.minimum(a, b) * n + np.maximum(a, b)
    return codes


def _candidate_pairs(f: _Features) -> IntArray:
    """The union of the blocking passes, as sorted unique ``lo * n + hi`` codes.

    Each name key is taken once from the Latin and once from the Urdu name, so a
    typo or a variant in one script does not hide a pair that the other shows.

    1. district + birth year + first-name key;
    2. district + sex + father's/husband's whole-name skeleton (a typo in the
       first name, a wrong birth year);
    3. the same mobile number (a move to another district);
    4. exact date of birth + sex + first skeleton symbol of the name;
    5. whole-name skeleton + birth year, province-wide (another district, no phone).
    """
    n = len(f.ids)
    known = f.year >= 0
    passes: list[IntArray] = []
    for key, skeleton, initial in (
        (f.key_latin, f.skeleton_latin, f.initial_latin),
        (f.key_urdu, f.skeleton_urdu, f.initial_urdu),
    ):
        passes += [
            _block_pairs(
                [f.district, f.year, key], (f.district >= 0) & known & (key >= 0), skeleton, n
            ),
            _block_pairs(
                [f.ordinal, f.sex, initial], (f.ordinal >= 0) & (initial >= 0), skeleton, n
            ),
            _block_pairs([skeleton, f.year], (skeleton >= 0) & known, f.district, n),
        ]
    passes += [
        _block_pairs(
            [f.district, f.sex, f.guardian_key],
            (f.district >= 0) & (f.guardian_key >= 0),
            f.skeleton_latin,
            n,
        ),
        _block_pairs([f.mobile], f.mobile >= 0, f.skeleton_latin, n),
    ]
    return _unique(np.concatenate(passes))


def find_duplicates(
    records: Sequence[PersonRecord],
    threshold: float = REVIEW_THRESHOLD,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[DuplicatePair]:
    """Every pair of ``records`` that shares a blocking key and scores at or above
    ``threshold``, best first; the same scores as ``score(a, b,
    frequencies=name_frequencies(records))``. ``progress(done, total)`` is called
    as the candidate pairs are scored (``total``: the pairs the blocking produced).
    A record is never paired with itself."""
    n = len(records)
    if n < 2:
        return []
    f = _features(records, count_namesakes=True)
    codes = _candidate_pairs(f)
    total = int(codes.size)
    if progress is not None:
        progress(0, total)
    found_i: list[IntArray] = []
    found_j: list[IntArray] = []
    found: list[_Comparison] = []
    for start in range(0, total, _CHUNK):
        chunk = codes[start : start + _CHUNK]
        i, j = chunk // n, chunk % n
        c = _compare(f, i, j)
        hits = np.flatnonzero(_combine(c) >= threshold)
        found_i.append(i[hits])
        found_j.append(j[hits])
        found.append(_take(c, hits))
        if progress is not None:
            progress(min(start + _CHUNK, total), total)
    if not found:
        return []
    c = _concat(found)
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    scores = _combine(c)
    hits = np.argsort(-scores, kind="stable")
    return [
        DuplicatePair(
            a=f.ids[int(i[k])],
            b=f.ids[int(j[k])],
            score=float(scores[k]),
            components=_components(c, int(k)),
        )
        for k in hits
    ]
