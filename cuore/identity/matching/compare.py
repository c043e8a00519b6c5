"""Compare pairs of normalised records field by field: the comparison vector of Fellegi–Sunter.

Each comparison reads one field (the name comparisons also read the other name, to see a swap) and
gives a pair one level, from the most to the least alike; the last level is always "different", and
-1 means the value is missing on either side, so it counts neither for nor against (its weight is 0).
A pair's vector is one int8 level per comparison, in COMPARISONS order. The levels are tried in order
and the first that holds wins:

- first_name: exact; same name or nickname (canonical forms equal: Beppe = Giuseppe); swapped with
  last name (each name ≈ the other record's other name: same initial and Jaro-Winkler ≥ 0.92, both
  ways); Jaro-Winkler ≥ 0.92;
  Jaro-Winkler ≥ 0.80; initial matches (one side is a single letter, the initials agree); different.
- last_name: exact (spaces ignored: "De Luca" = "Deluca"); swapped with first name (weight held at 0:
  the swap is one fact, weighed once by first_name); Jaro-Winkler ≥ 0.92; one surname shared (double
  surnames: "Rossi Bianchi" and "Rossi"); Jaro-Winkler ≥ 0.80; different.
- birth_date: exact; day and month swapped; within 1 edit (one digit mistyped or two transposed, on
  the 8 digits); same year and month; same year; different.
- email: exact; within 1 edit (Damerau-Levenshtein, restricted); same user name (the part before "@");
  different.
- phone: exact; same last 8 digits (the country read differently); within 1 edit; different.
- tax_code: exact; within 1 edit; within 2 edits; different.
- line1 (street and number): exact; same words in another order; Jaro-Winkler ≥ 0.92; Jaro-Winkler ≥
  0.80; different.
- line2: exact; Jaro-Winkler ≥ 0.90; different.
- place (postal_code, city, province together, since they go together and three comparisons would
  count "same town" three times): same postal code and city (city: equal or Jaro-Winkler ≥ 0.90);
  same postal code; same city; postal code within 1 edit or same province; different. Missing only
  when none of the three is on both sides.
- country: exact; different.

Vectorised: every level is a numpy mask over all pairs; equality compares the columns' integer codes
(equal values share a code within a set); string similarities run in rapidfuzz's C++
(`process.cpdist`, elementwise, on all cores) and only over the pairs that no earlier level has taken.
All comparisons are symmetric, so a pair scores the same whichever record comes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from .normalise import Prepared

__all__ = ["COMPARISONS", "Comparison", "compare_records", "comparison_vectors"]

CHUNK = 500_000


class _Pairs:
    """The two sides of a batch of pairs, read through the columns' codes (gathered once per column).

    Within one set equal values have equal codes, so equality is an integer comparison; strings are
    fetched only for the pairs that need a similarity score.
    """

    def __init__(self, a: Prepared, b: Prepared, left: np.ndarray, right: np.ndarray):
        self.a, self.b = a, b
        self.left, self.right = left, right
        self.same_set = a is b
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._present: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.memo: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.left)

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._codes:
            self._codes[name] = (self.a.codes(name)[self.left], self.b.codes(name)[self.right])
        return self._codes[name]

    def present_each(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Whether each side has a value."""
        if name not in self._present:
            self._present[name] = (self.a.present(name)[self.left], self.b.present(name)[self.right])
        return self._present[name]

    def present(self, name: str) -> np.ndarray:
        """Both sides have a value."""
        present_a, present_b = self.present_each(name)
        return present_a & present_b

    def equal(self, name: str) -> np.ndarray:
        """Both sides have a value and it is the same."""
        codes_a, codes_b = self.codes(name)
        if self.same_set:
            return (codes_a == codes_b) & self.present(name)
        return (self.a.distinct(name)[codes_a] == self.b.distinct(name)[codes_b]) & self.present(name)

    def strings(self, name: str, positions: np.ndarray, other: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The values of column `name` on the left and of `other` (default: the same) on the right."""
        other = other or name
        return (
            self.a.distinct(name)[self.a.codes(name)[self.left[positions]]],
            self.b.distinct(other)[self.b.codes(other)[self.right[positions]]],
        )

    def score(self, name: str, positions: np.ndarray, scorer: Callable, other: str | None = None) -> np.ndarray:
        """rapidfuzz's `scorer` of the pairs at `positions`, elementwise in C++ on all cores."""
        if len(positions) == 0:
            return np.zeros(0)
        other = other or name
        distinct_a, distinct_b = len(self.a.distinct(name)), len(self.b.distinct(other))
        if distinct_a * distinct_b <= len(positions):
            # Few distinct values (cities, postal codes): score each distinct couple once.
            codes_a = self.a.codes(name)[self.left[positions]]
            codes_b = self.b.codes(other)[self.right[positions]]
            _, first, inverse = np.unique(codes_a * distinct_b + codes_b, return_index=True, return_inverse=True)
            return self._cpdist(name, positions[first], scorer, other)[inverse.reshape(-1)]
        return self._cpdist(name, positions, scorer, other)

    def _cpdist(self, name: str, positions: np.ndarray, scorer: Callable, other: str) -> np.ndarray:
        left, right = self.strings(name, positions, other)
        return process.cpdist(left, right, scorer=scorer, workers=-1)

    def cross_equal(self, name: str, other: str) -> np.ndarray:
        """The left's `name` equals the right's `other` (both present), by value hashes: any two columns."""
        return (
            (self.a.hashes(name)[self.left] == self.b.hashes(other)[self.right])
            & self.a.present(name)[self.left]
            & self.b.present(other)[self.right]
        )


class _Levels:
    """Levels assigned in order: each rule sets the pairs that are still open and fit it."""

    def __init__(self, present: np.ndarray, different: int):
        self.levels = np.full(len(present), different, dtype=np.int8)
        self.levels[~present] = -1
        self.open = present.copy()

    def set(self, level: int, fits: np.ndarray) -> None:
        chosen = self.open & fits
        self.levels[chosen] = level
        self.open &= ~chosen

    def set_by_score(
        self,
        pairs: _Pairs,
        name: str,
        scorer: Callable,
        rules: tuple[tuple[int, Callable[[np.ndarray], np.ndarray]], ...],
    ) -> None:
        """Score the open pairs once, then give each rule's level to the open pairs whose score it accepts."""
        positions = np.flatnonzero(self.open)
        scores = pairs.score(name, positions, scorer)
        for level, accepts in rules:
            fits = accepts(scores)
            chosen = positions[fits]
            self.levels[chosen] = level
            self.open[chosen] = False
            positions, scores = positions[~fits], scores[~fits]


_JARO_WINKLER = JaroWinkler.normalized_similarity


def _at_least(threshold: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda scores: scores >= threshold


def _at_most(edits: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda distances: distances <= edits


def _within_one_edit(pairs: _Pairs, name: str, could: np.ndarray) -> np.ndarray:
    """OSA distance ≤ 1, computed only where `could` (an exact pre-filter) holds."""
    positions = np.flatnonzero(could)
    within = np.zeros(len(pairs), dtype=bool)
    within[positions] = pairs.score(name, positions, OSA.distance) <= 1
    return within


def _swapped(pairs: _Pairs) -> np.ndarray:
    """Each name ≈ the other record's other name (Jaro-Winkler ≥ 0.92 both ways), first names not equal."""
    if "swapped" not in pairs.memo:
        # Part of the level's definition, and what keeps it cheap: the initials agree crosswise.
        candidates = np.flatnonzero(
            pairs.cross_equal("first_canonical_initial", "last_initial")
            & pairs.cross_equal("last_initial", "first_canonical_initial")
            & ~pairs.equal("first_canonical")
        )
        # The second direction only where the first holds: a swap is rare, most pairs stop here.
        candidates = candidates[pairs.score("first_canonical", candidates, _JARO_WINKLER, "last_compact") >= 0.92]
        candidates = candidates[pairs.score("last_compact", candidates, _JARO_WINKLER, "first_canonical") >= 0.92]
        swapped = np.zeros(len(pairs), dtype=bool)
        swapped[candidates] = True
        pairs.memo["swapped"] = swapped
    return pairs.memo["swapped"]


def _first_name(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("first_name"), 6)
    levels.set(0, pairs.equal("first_name"))
    levels.set(1, pairs.equal("first_canonical"))
    levels.set(2, _swapped(pairs))
    levels.set_by_score(pairs, "first_canonical", _JARO_WINKLER, ((3, _at_least(0.92)), (4, _at_least(0.80))))
    single_a, single_b = pairs.present_each("first_single_letter")
    levels.set(5, (single_a | single_b) & pairs.equal("first_initial"))
    return levels.levels


def _shares_a_word(pairs: _Pairs, open_pairs: np.ndarray) -> np.ndarray:
    multi_a, multi_b = pairs.present_each("last_multiword")
    positions = np.flatnonzero(open_pairs & (multi_a | multi_b))
    shared = np.zeros(len(pairs), dtype=bool)
    if len(positions):
        left, right = pairs.strings("last_name", positions)
        shared[positions] = [
            bool(set(one.split()) & set(other.split())) for one, other in zip(left, right, strict=True)
        ]
    return shared


def _last_name(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("last_name"), 5)
    levels.set(0, pairs.equal("last_compact"))
    levels.set(1, _swapped(pairs))
    positions = np.flatnonzero(levels.open)
    similarity = np.zeros(len(pairs))
    similarity[positions] = pairs.score("last_compact", positions, _JARO_WINKLER)
    levels.set(2, similarity >= 0.92)
    levels.set(3, _shares_a_word(pairs, levels.open))
    levels.set(4, similarity >= 0.80)
    return levels.levels


def _birth_date(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("birth_date"), 5)
    levels.set(0, pairs.equal("birth_date"))
    swapped_a, _ = pairs.present_each("birth_swapped")
    positions = np.flatnonzero(levels.open & swapped_a)
    day_month_swapped = np.zeros(len(pairs), dtype=bool)
    if len(positions):
        left, right = pairs.strings("birth_swapped", positions, "birth_date")
        day_month_swapped[positions] = left == right
    levels.set(1, day_month_swapped)
    # One edit (or one transposition) of 8 digits leaves the first 4 or the last 3 alone.
    could = pairs.equal("birth_year") | pairs.equal("birth_digits_tail")
    levels.set(2, _within_one_edit(pairs, "birth_digits", levels.open & could))
    levels.set(3, pairs.equal("birth_year_month"))
    levels.set(4, pairs.equal("birth_year"))
    return levels.levels


def _email(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("email"), 3)
    levels.set(0, pairs.equal("email"))
    lengths_a, lengths_b = pairs.a.lengths("email")[pairs.left], pairs.b.lengths("email")[pairs.right]
    levels.set(1, _within_one_edit(pairs, "email", levels.open & (np.abs(lengths_a - lengths_b) <= 1)))
    levels.set(2, pairs.equal("email_user"))
    return levels.levels


def _phone(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("phone"), 3)
    levels.set(0, pairs.equal("phone"))
    levels.set(1, pairs.equal("phone_last8"))
    # Two numbers of 10 characters or more within one edit (or one transposition) share their first 6
    # or their last 3: an edit cannot reach both ends when 6 + 3 < 10.
    long_a, long_b = pairs.present_each("phone_head")
    could = pairs.equal("phone_head") | pairs.equal("phone_tail") | ~(long_a & long_b)
    levels.set(2, _within_one_edit(pairs, "phone", levels.open & could))
    return levels.levels


def _tax_code(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("tax_code"), 3)
    levels.set(0, pairs.equal("tax_code"))
    levels.set_by_score(pairs, "tax_code", OSA.distance, ((1, _at_most(1)), (2, _at_most(2))))
    return levels.levels


def _line1(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("line1"), 4)
    levels.set(0, pairs.equal("line1"))
    levels.set(1, pairs.equal("line1_sorted"))
    levels.set_by_score(pairs, "line1", _JARO_WINKLER, ((2, _at_least(0.92)), (3, _at_least(0.80))))
    return levels.levels


def _line2(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("line2"), 2)
    levels.set(0, pairs.equal("line2"))
    levels.set_by_score(pairs, "line2", _JARO_WINKLER, ((1, _at_least(0.90)),))
    return levels.levels


def _place(pairs: _Pairs) -> np.ndarray:
    """Postal code, city and province as one comparison: in most countries they go together.

    Three comparisons would count one fact ("same town") three times; as one comparison, EM learns
    from the data how much "same postal code and city" adds over "same postal code" alone.
    """
    has_postal, has_city = pairs.present("postal_code"), pairs.present("city")
    levels = _Levels(has_postal | has_city | pairs.present("province"), 4)
    same_postal = pairs.equal("postal_code")
    same_city = pairs.equal("city")
    similar = np.flatnonzero(has_city & ~same_city & levels.open)
    same_city[similar] = pairs.score("city", similar, _JARO_WINKLER) >= 0.90
    levels.set(0, same_postal & same_city)
    levels.set(1, same_postal)
    levels.set(2, same_city)
    positions = np.flatnonzero(has_postal & levels.open)
    near = np.zeros(len(pairs), dtype=bool)
    near[positions] = pairs.score("postal_code", positions, OSA.distance) <= 1
    levels.set(3, near | pairs.equal("province"))
    return levels.levels


def _country(pairs: _Pairs) -> np.ndarray:
    levels = _Levels(pairs.present("country"), 1)
    levels.set(0, pairs.equal("country"))
    return levels.levels


@dataclass(frozen=True)
class Comparison:
    """One comparison of a pair: its levels, most alike first, "different" last; level -1 = missing."""

    name: str
    fields: tuple[str, ...]
    levels: tuple[str, ...]
    compare: Callable[[_Pairs], np.ndarray]
    # Levels whose weight is held at 0 (m = u) because another comparison already counts that evidence.
    neutral: tuple[int, ...] = ()


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "first_name",
        ("first_name",),
        (
            "exact",
            "same name or nickname",
            "swapped with last name",
            "jaro-winkler ≥ 0.92",
            "jaro-winkler ≥ 0.80",
            "initial matches",
            "different",
        ),
        _first_name,
    ),
    Comparison(
        "last_name",
        ("last_name",),
        (
            "exact",
            "swapped with first name",
            "jaro-winkler ≥ 0.92",
            "one surname shared",
            "jaro-winkler ≥ 0.80",
            "different",
        ),
        _last_name,
        # A swap is one fact, weighed once, by first_name's "swapped with last name".
        neutral=(1,),
    ),
    Comparison(
        "birth_date",
        ("birth_date",),
        ("exact", "day and month swapped", "within 1 edit", "same year and month", "same year", "different"),
        _birth_date,
    ),
    Comparison("email", ("email",), ("exact", "within 1 edit", "same user name", "different"), _email),
    Comparison("phone", ("phone",), ("exact", "same last 8 digits", "within 1 edit", "different"), _phone),
    Comparison("tax_code", ("tax_code",), ("exact", "within 1 edit", "within 2 edits", "different"), _tax_code),
    Comparison(
        "line1",
        ("line1",),
        ("exact", "same words in another order", "jaro-winkler ≥ 0.92", "jaro-winkler ≥ 0.80", "different"),
        _line1,
    ),
    Comparison("line2", ("line2",), ("exact", "jaro-winkler ≥ 0.90", "different"), _line2),
    Comparison(
        "place",
        ("postal_code", "city", "province"),
        (
            "same postal code and city",
            "same postal code",
            "same city",
            "postal code within 1 edit or same province",
            "different",
        ),
        _place,
    ),
    Comparison("country", ("country",), ("exact", "different"), _country),
)


def compare_records(a: Prepared, b: Prepared, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return the comparison vectors (int8, one row per pair) of records a[left[k]] and b[right[k]]."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    vectors = np.empty((len(left), len(COMPARISONS)), dtype=np.int8)
    # In chunks: the gathered columns of a chunk stay small (and in cache) whatever the number of pairs.
    for start in range(0, len(left), CHUNK):
        pairs = _Pairs(a, b, left[start : start + CHUNK], right[start : start + CHUNK])
        for column, comparison in enumerate(COMPARISONS):
            vectors[start : start + CHUNK, column] = comparison.compare(pairs)
    return vectors


def comparison_vectors(prepared: Prepared, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return the comparison vectors of pairs of records of one set."""
    return compare_records(prepared, prepared, left, right)
