"""Splink 5 on DuckDB, configured as a Splink user would for person data: the bench's yardstick.

``run(columns)`` takes the bench's records (the field names of ``cuore.identity.matching``, every value a str,
"" = missing) and returns a cluster label per record, the seconds of each step and the peak RSS.

1. **Cleaning**, in DuckDB SQL with built-in functions only (no DuckDB extension can be downloaded here):
   names lower case, accents stripped, anything but letters and spaces dropped; e-mail trimmed and lower
   case; phone reduced to its last 9 digits, which drops country codes, "+" / "00" prefixes and trunk zeros in
   one stroke (a common trick for mixed-format phones); birth date parsed from yyyy-mm-dd, dd/mm/yyyy or
   yyyymmdd back to ISO text; postcode and tax code upper case without spaces or punctuation; street and
   city lower case without accents or punctuation. Splink has no nickname table and none is added: it
   compares what it is given. "" becomes NULL, so a missing value neither agrees nor disagrees.
2. **Comparisons** from ``splink.comparison_library``, the standard ones for people: ForenameSurnameComparison
   (exact, swapped, Jaro-Winkler ≥ 0.92 / 0.88 on both, exact surname, exact forename; term-frequency
   adjusted on the full name), DateOfBirthComparison (exact, Levenshtein 1, within a month / a year / 10
   years), EmailComparison, Damerau-Levenshtein levels for phone (1), tax code (1, 2) and postcode (1),
   Jaro-Winkler levels for street (0.9, 0.8) and city (0.9). A comparison whose column is empty in every
   record (FEBRL has no e-mail or phone) is left out.
3. **Training**, as in Splink's tutorials: the match prior from deterministic rules (same e-mail; same tax
   code; same names and birth date) at an assumed recall of 0.7; u by random sampling (``U_MAX_PAIRS``
   pairs, seeded); m by expectation–maximisation on two blocking rules, first and last name (trains all
   but the names) and birth date (trains the names).
4. **Prediction** on blocking rules of the same kinds as ours (``PREDICTION_RULES``: e-mail; phone; tax code;
   surname + birth year; both names in sorted order + birth year; the first three letters of both names,
   sorted, + postcode; birth date + either initial; postcode + street), keeping pairs at probability ≥ 0.5,
   then connected components of the pairs at ≥ the link threshold (0.95), Splink's
   ``cluster_pairwise_predictions_at_threshold``. ``retain_matching_columns`` is off (the output needs ids
   and probabilities only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cuore.identity.matching import FIELDS

U_MAX_PAIRS = 1e7
PRIOR_RECALL = 0.7
PREDICT_THRESHOLD = 0.5
# The columns Splink sees after cleaning (line 2, province and country are not compared).
CLEANED = ("first_name", "last_name", "birth_date", "email", "phone", "tax_code", "line1", "postal_code", "city")


def _letters(column: str) -> str:
    return (
        f"nullif(trim(regexp_replace(regexp_replace(lower(strip_accents({column})), '[^a-z ]', '', 'g'), "
        f"'\\s+', ' ', 'g')), '')"
    )


def _plain(column: str) -> str:
    return (
        f"nullif(trim(regexp_replace(regexp_replace(lower(strip_accents({column})), '[^a-z0-9 ]', ' ', 'g'), "
        f"'\\s+', ' ', 'g')), '')"
    )


CLEANING_SQL = f"""
select
    unique_id,
    {_letters("first_name")} as first_name,
    {_letters("last_name")} as last_name,
    strftime(coalesce(
        try_strptime(trim(birth_date), '%Y-%m-%d'),
        try_strptime(trim(birth_date), '%d/%m/%Y'),
        try_strptime(trim(birth_date), '%Y%m%d')
    ), '%Y-%m-%d') as birth_date,
    nullif(lower(trim(email)), '') as email,
    nullif(right(regexp_replace(phone, '[^0-9]', '', 'g'), 9), '') as phone,
    nullif(upper(regexp_replace(tax_code, '[^A-Za-z0-9]', '', 'g')), '') as tax_code,
    {_plain("line1")} as line1,
    nullif(upper(regexp_replace(postal_code, '[^A-Za-z0-9]', '', 'g')), '') as postal_code,
    {_plain("city")} as city
from raw
"""


# Derived columns: the full name for ForenameSurnameComparison's term frequencies, and both names (whole
# and their first three letters) in sorted order, so that blocking on them meets swapped names.
RECORDS_SQL = """
create table records as
select
    *,
    case when first_name is not null and last_name is not null
        then first_name || ' ' || last_name end as first_name_surname_concat,
    case when first_name is not null and last_name is not null then least(first_name, last_name) end as name_low,
    case when first_name is not null and last_name is not null then greatest(first_name, last_name) end as name_high,
    case when first_name is not null and last_name is not null
        then least(substr(first_name, 1, 3), substr(last_name, 1, 3)) end as name3_low,
    case when first_name is not null and last_name is not null
        then greatest(substr(first_name, 1, 3), substr(last_name, 1, 3)) end as name3_high
from cleaned
"""


@dataclass
class SplinkResult:
    """What one Splink run gives the bench."""

    cluster: np.ndarray  # per record, in input order: a cluster label
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: float = 0.0
    comparisons: list[str] = field(default_factory=list)
    predicted_pairs: int = 0


def _comparisons(present: set[str]) -> list:
    import splink.comparison_library as cl

    wanted = [
        (
            ("first_name", "last_name"),
            cl.ForenameSurnameComparison(
                "first_name", "last_name", forename_surname_concat_col_name="first_name_surname_concat"
            ),
        ),
        (
            ("birth_date",),
            cl.DateOfBirthComparison("birth_date", input_is_string=True, datetime_format="%Y-%m-%d"),
        ),
        (("email",), cl.EmailComparison("email")),
        (("phone",), cl.DamerauLevenshteinAtThresholds("phone", [1])),
        (("tax_code",), cl.DamerauLevenshteinAtThresholds("tax_code", [1, 2])),
        (("line1",), cl.JaroWinklerAtThresholds("line1", [0.9, 0.8])),
        (("postal_code",), cl.DamerauLevenshteinAtThresholds("postal_code", [1])),
        (("city",), cl.JaroWinklerAtThresholds("city", [0.9])),
    ]
    return [comparison for columns, comparison in wanted if all(column in present for column in columns)]


# The same kinds of key as cuore.identity.matching.blocking, on Splink's cleaned columns: exact names
# where ours uses Soundex (DuckDB has no built-in Soundex), no nickname table; pairs from several rules
# are scored once (Splink's own rule).
PREDICTION_RULES = (
    ("email",),
    ("phone",),
    ("tax_code",),
    ("last_name", "substr(birth_date, 1, 4)"),
    ("name_low", "name_high", "substr(birth_date, 1, 4)"),
    ("name3_low", "name3_high", "postal_code"),
    ("birth_date", "substr(last_name, 1, 1)"),
    ("birth_date", "substr(first_name, 1, 1)"),
    ("postal_code", "line1"),
)


def _rules(present: set[str]) -> list:
    from splink import block_on

    def needs(parts: tuple[str, ...]) -> set[str]:
        names = {column for column in FIELDS for part in parts if column in part}
        if any(part.startswith("name") for part in parts):
            names |= {"first_name", "last_name"}
        return names

    return [block_on(*parts) for parts in PREDICTION_RULES if needs(parts) <= present]


def run(
    columns: Mapping[str, Sequence[str]],
    *,
    link_threshold: float = 0.95,
    seed: int = 0,
    u_max_pairs: float = U_MAX_PAIRS,
) -> SplinkResult:
    """Clean, train, predict and cluster ``columns`` with Splink on an in-memory DuckDB."""
    import pyarrow as pa
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from bench.analytics.memory import PeakMemory

    seconds: dict[str, float] = {}
    n = len(next(iter(columns.values())))
    with PeakMemory() as peak:
        started = step = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal step
            now = time.perf_counter()
            seconds[name] = now - step
            step = now

        db_api = DuckDBAPI()
        con = db_api.duckdb_con
        table = {"unique_id": pa.array(np.arange(n, dtype=np.int64))}
        for name in FIELDS:
            table[name] = pa.array(columns[name], type=pa.string()) if name in columns else pa.nulls(n, pa.string())
        con.register("raw", pa.table(table))
        con.execute(f"create table cleaned as {CLEANING_SQL}").fetchall()
        con.execute(RECORDS_SQL).fetchall()
        con.execute("drop table cleaned").fetchall()
        con.unregister("raw")
        del table
        counting = "select " + ", ".join(f"count({name})" for name in CLEANED) + " from records"
        (counts,) = con.execute(counting).fetchall()
        present = {name for name, count in zip(CLEANED, counts, strict=True) if count}
        comparisons = _comparisons(present)
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=comparisons,
            blocking_rules_to_generate_predictions=_rules(present),
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
        )
        linker = Linker(db_api.register("records"), settings, log_level=logging.WARNING)
        lap("load + clean")

        deterministic = [block_on(name) for name in ("email", "tax_code") if name in present]
        if {"first_name", "last_name", "birth_date"} <= present:
            deterministic.append(block_on("first_name", "last_name", "birth_date"))
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=PRIOR_RECALL)
        lap("prior")
        linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
        lap("u")
        for rule in (("first_name", "last_name"), ("birth_date",)):
            if set(rule) <= present:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*rule), estimate_without_term_frequencies=True
                )
        lap("m (EM)")
        predictions = linker.inference.predict(threshold_match_probability=PREDICT_THRESHOLD)
        predicted_pairs = con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
        lap("predict")
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=link_threshold
        )
        result = con.execute(f"select unique_id, cluster_id from {clusters.physical_name}").fetchnumpy()
        cluster = np.empty(n, dtype=np.int64)
        # cluster_id is a representative's unique_id; its type follows unique_id's, but do not rely on it.
        _labels, codes = np.unique(np.asarray(result["cluster_id"]), return_inverse=True)
        cluster[np.asarray(result["unique_id"], dtype=np.int64)] = codes
        lap("cluster")
        seconds["total"] = time.perf_counter() - started
        con.close()
    return SplinkResult(
        cluster=cluster,
        seconds=seconds,
        peak_mb=peak.peak_mb,
        comparisons=[comparison.create_output_column_name() for comparison in comparisons],
        predicted_pairs=int(predicted_pairs),
    )
