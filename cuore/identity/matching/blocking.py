"""Blocking: which pairs of records are worth comparing at all.

Comparing every pair of a million records is 5·10¹¹ comparisons; blocking compares only the pairs that
share at least one key. Each rule computes one key per record from the normalised columns ("" = the
record has no key for that rule, e.g. no email), and a key is written "namespace:value", the namespace
being the rule's name unless rules share one. Keys of rules that share a namespace meet each other:
that is how records with first and last name swapped still meet. The keys of one record can be stored
in one indexed database column and looked up for a new record; `candidate_pairs` does the same lookup
for a whole set at once.

The rules (BLOCKING_RULES):

- email: the normalised address.
- phone: the E.164 number.
- tax_code: the national personal id.
- last_name_phonetic_year: the phonetic key of the last name (normalise.phonetic_key: double letters
  and letters that sound alike unified, vowels kept; Soundex would put Rossi, Russo, Ricci and Rizzo
  in one block) + birth year. The first name is free to differ: nicknames, typos, initials.
- names_sound_year: the two Soundex codes of first (nickname-canonical) and last name, sorted, + birth
  year: swapped names meet.
- names_first3_postcode: the first three letters of first (canonical) and last name, sorted, + postal
  code: records without a birth date, swapped names too.
- birth_date_last_initial and birth_date_first_initial (one namespace, "birth_date_initial"): the birth
  date + the initial of the last name, and + the initial of the first name. A record with the names
  swapped, or one of them missing or mistyped in its first letter, still meets through the other.
- last_name_sound_street: Soundex of the last name + house number + the first four letters of the
  street's own name ("via della Rosa 12" -> "12|rosa"): records without birth date whose postal code,
  city or id is mistyped.
- address: postal code + the street line (words sorted): people living together, and the same person
  with a typo in both names.

`candidate_pairs` groups all keys at once with numpy. Each key is hashed to 64 bits from the cached
hashes of its parts' values, folded with MurmurHash3's finaliser (no key string is built); the hashes
are sorted and cut into runs of equal hashes, and every run of 2 to `max_block` records yields all its
pairs, made with repeat/cumsum arithmetic a batch of runs at a time (no Python loop per record, and
temporary arrays of about PAIR_BATCH pairs). Runs longer than `max_block` (a placeholder email shared
by thousands, a very common name) are skipped and counted in a log line. A pair whose keys have equal
hashes must also have equal second hashes (folded another way), so colliding keys make no pairs;
pairs found by several keys are merged, each with the mask of the rules that found it (model.py
trains one EM pass per rule). The result does not depend on Python's per-process string-hash seed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from .normalise import Prepared

__all__ = ["BLOCKING_RULES", "BlockingRule", "candidate_pairs", "record_keys"]

logger = logging.getLogger(__name__)

PAIR_BATCH = 2_000_000


_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)
# Two different ways of folding the parts' hashes into one: equal keys agree on both, different keys
# that collide on the first almost never collide on the second too.
_STEPS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD6E8FEB86659FD93))


def _fmix(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, elementwise: spreads every input bit over the whole word."""
    values = values ^ (values >> _SHIFT)
    values = values * _FMIX_1
    values = values ^ (values >> _SHIFT)
    values = values * _FMIX_2
    return values ^ (values >> _SHIFT)


def _seed(text: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))


@dataclass(frozen=True)
class BlockingRule:
    """A named blocking key: the values of `parts` (columns of Prepared) joined; `fields` are the fields it reads.

    With `unordered`, the first two parts are an unordered pair ({first, last}), so records with the
    names swapped get the same key. A record whose value of any part is "" has no key for the rule.
    """

    name: str
    fields: tuple[str, ...]
    parts: tuple[str, ...]
    unordered: bool = False
    namespace: str = ""

    @property
    def prefix(self) -> str:
        return (self.namespace or self.name) + ":"

    def _present(self, prepared: Prepared) -> np.ndarray:
        present = np.ones(len(prepared), dtype=bool)
        for part in self.parts:
            present &= prepared.column(part) != ""
        return present

    def key(self, prepared: Prepared) -> np.ndarray:
        """Each record's key value (without the prefix) as an object array; "" = no key."""
        columns = [prepared.column(part) for part in self.parts]
        if self.unordered:
            first, second = columns[0], columns[1]
            in_order = first <= second
            columns[0], columns[1] = np.where(in_order, first, second), np.where(in_order, second, first)
        joined = columns[0]
        for column in columns[1:]:
            joined = joined + "|" + column
        return np.where(self._present(prepared), joined, "")

    def key_hashes(self, prepared: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The positions of the records that have a key, and two independent 64-bit hashes of their keys.

        Built from the cached hashes of the parts' values with integer arithmetic only: no key string
        is made, which at a million records saves most of the time and memory of blocking.
        """
        positions = np.flatnonzero(self._present(prepared))
        hashes = [prepared.hashes(part)[positions].view(np.uint64) for part in self.parts]
        if self.unordered:
            hashes[0], hashes[1] = np.minimum(hashes[0], hashes[1]), np.maximum(hashes[0], hashes[1])
        results = []
        for number, step in enumerate(_STEPS):
            folded = np.full(len(positions), _seed(f"{self.prefix}{number}"), dtype=np.uint64)
            for part_hashes in hashes:
                folded = _fmix(folded * step + part_hashes)
            results.append(folded.view(np.int64))
        return positions, results[0], results[1]


BLOCKING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("email", ("email",), ("email",)),
    BlockingRule("phone", ("phone",), ("phone",)),
    BlockingRule("tax_code", ("tax_code",), ("tax_code",)),
    BlockingRule("last_name_phonetic_year", ("last_name", "birth_date"), ("last_phonetic", "birth_year")),
    BlockingRule(
        "names_sound_year",
        ("first_name", "last_name", "birth_date"),
        ("first_sound", "last_sound", "birth_year"),
        unordered=True,
    ),
    BlockingRule(
        "names_first3_postcode",
        ("first_name", "last_name", "postal_code"),
        ("first3_first", "first3_last", "postal_code"),
        unordered=True,
    ),
    BlockingRule(
        "birth_date_last_initial",
        ("birth_date", "first_name", "last_name"),
        ("birth_date", "last_initial"),
        namespace="birth_date_initial",
    ),
    BlockingRule(
        "birth_date_first_initial",
        ("birth_date", "first_name", "last_name"),
        ("birth_date", "first_initial"),
        namespace="birth_date_initial",
    ),
    BlockingRule("last_name_sound_street", ("last_name", "line1"), ("last_sound", "street_key")),
    BlockingRule("address", ("postal_code", "line1"), ("postal_code", "line1_sorted")),
)


def record_keys(prepared: Prepared) -> list[np.ndarray]:
    """Return one object array of "namespace:value" keys per rule in BLOCKING_RULES ("" = no key)."""
    keys = []
    for rule in BLOCKING_RULES:
        values = rule.key(prepared)
        keys.append(np.where(values != "", rule.prefix + values, ""))
    return keys


def _hashed_keys(prepared: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The keys of every rule as two hashes each, with their record and rule number."""
    hashes, checks, records, rules = [], [], [], []
    for number, rule in enumerate(BLOCKING_RULES):
        positions, first, second = rule.key_hashes(prepared)
        hashes.append(first)
        checks.append(second)
        records.append(positions.astype(np.int64))
        rules.append(np.full(len(positions), number, dtype=np.int64))
    return np.concatenate(hashes), np.concatenate(checks), np.concatenate(records), np.concatenate(rules)


def all_pairs_in_groups(members: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair inside each group; group g is members[starts[g] : starts[g] + sizes[g]]."""
    sizes = sizes.astype(np.int64)
    # Member a of a group of size s (local index k) pairs with the s - 1 - k members after it.
    local = np.arange(len(members), dtype=np.int64) - np.repeat(starts, sizes)
    group_size = np.repeat(sizes, sizes)
    partners = group_size - 1 - local
    first = np.repeat(np.arange(len(members), dtype=np.int64), partners)
    offsets = np.arange(len(first), dtype=np.int64) - np.repeat(np.cumsum(partners) - partners, partners)
    second = first + 1 + offsets
    return members[first], members[second]


def _pairs_by_rule(prepared: Prepared, max_block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs (left < right) and, per pair, a bit mask of the rules whose keys they share."""
    count = len(prepared)
    hashes, checks, records, rules = _hashed_keys(prepared)
    # Stable, so that which of two rules sharing a namespace is credited with a pair never depends on
    # the process's string-hash seed.
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    del hashes
    starts = np.flatnonzero(np.concatenate(([True], sorted_hashes[1:] != sorted_hashes[:-1])))
    sizes = np.diff(np.append(starts, len(sorted_hashes)))
    del sorted_hashes
    too_big = sizes > max_block
    if too_big.any():
        logger.info(
            "blocking skipped %d blocks larger than %d records (%d keys in them)",
            int(too_big.sum()),
            max_block,
            int(sizes[too_big].sum()),
        )
    keep = (sizes >= 2) & ~too_big
    starts, sizes = starts[keep], sizes[keep]
    # Pairs are made a batch of blocks at a time, so the temporary arrays stay near PAIR_BATCH long.
    pair_counts = sizes * (sizes - 1) // 2
    batch_of = np.cumsum(pair_counts) // PAIR_BATCH
    batch_bounds = np.searchsorted(batch_of, np.arange(batch_of[-1] + 2 if len(batch_of) else 1))
    codes_parts, bits_parts = [], []
    for batch in range(len(batch_bounds) - 1):
        chosen = slice(batch_bounds[batch], batch_bounds[batch + 1])
        batch_starts, batch_sizes = starts[chosen], sizes[chosen]
        if len(batch_sizes) == 0:
            continue
        local = np.arange(int(batch_sizes.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(batch_sizes) - batch_sizes, batch_sizes
        )
        members = order[np.repeat(batch_starts, batch_sizes) + local]
        first, second = all_pairs_in_groups(members, np.cumsum(batch_sizes) - batch_sizes, batch_sizes)
        same_key = checks[first] == checks[second]
        first, second = first[same_key], second[same_key]
        left, right = records[first], records[second]
        distinct = left != right
        left, right, first = left[distinct], right[distinct], first[distinct]
        codes_parts.append(np.minimum(left, right) * count + np.maximum(left, right))
        bits_parts.append(np.left_shift(1, rules[first]).astype(np.int16))
    codes = np.concatenate(codes_parts) if codes_parts else np.zeros(0, dtype=np.int64)
    if codes.size == 0:  # no keys shared, or only within one record
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    bits = np.concatenate(bits_parts)
    del codes_parts, bits_parts
    order = np.argsort(codes)
    codes, bits = codes[order], bits[order]
    del order
    firsts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
    masks = np.bitwise_or.reduceat(bits, firsts).astype(np.int64)
    codes = codes[firsts]
    return codes // count, codes % count, masks


def candidate_pairs(prepared: Prepared, *, max_block: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Return the unique pairs of positions (i < j) that share at least one blocking key."""
    left, right, _ = _pairs_by_rule(prepared, max_block)
    return left, right
