"""Parsing one cell: text, numbers, booleans, dates, emails, phones, countries and choices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from cuore.imports.reading import (
    ValueProblem,
    guess_day_first,
    guess_decimal_comma,
    parse_bool,
    parse_choice,
    parse_country,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_email,
    parse_int,
    parse_phone,
    parse_text,
)
from cuore.imports.reading.fields import (
    COMPANY_SIZE_SYNONYMS,
    COMPANY_SIZES,
    LIFECYCLE_STAGES,
    LIFECYCLE_SYNONYMS,
    currency_choices,
    currency_synonyms,
    language_choices,
    language_synonyms,
)

UTC = dt.UTC


def problem(parse, *args, **kwargs) -> str:
    with pytest.raises(ValueProblem) as raised:
        parse(*args, **kwargs)
    return str(raised.value)


# --- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '=HYPERLINK("http://evil.example","click")',
        "=1+1",
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(A1:A3)",
        "\t=cmd",
        "\r\n=cmd",
        "-Sheet1!A1",
    ],
)
def test_formulas_are_refused(raw):
    assert problem(parse_text, raw, max_length=None).startswith("looks like a formula: ")


@pytest.mark.parametrize(
    "raw", ["-", "=", "-3,5", "-12", "+39 347 1234567", "@mario_rossi", "- a bullet", "Hello!", "a=b", "E=mc2"]
)
def test_text_that_only_starts_like_a_formula_is_kept(raw):
    assert parse_text(raw, max_length=None) == raw


def test_text_is_stripped_line_breaks_normalised_and_length_checked():
    assert parse_text("  Via Roma 1\r\nScala B  ", max_length=20) == "Via Roma 1\nScala B"
    assert problem(parse_text, "x" * 300, max_length=100) == "too long: 300 characters, at most 100"
    assert problem(parse_text, "a\x00b", max_length=None) == "contains control characters"


def test_reasons_are_rendered_in_the_active_language():
    # The catalogue is someone else's; the reason is lazy until shown, whatever the language.
    raised = ValueProblem("not a number: %(value)s", value="x")
    with translation.override("it"):
        assert str(raised) == "not a number: x"


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1234,5", "1234.5"),
        ("1234.5", "1234.5"),
        ("€ 12", "12"),
        ("12 EUR", "12"),
        ("12,50 €", "12.50"),
        ("USD 3.50", "3.50"),
        ("-3,5", "-3.5"),
        ("−3,5", "-3.5"),
        ("-€ 3", "-3"),
        ("(12.50)", "-12.50"),
        ("12,50-", "-12.50"),
        ("1 234 567,89", "1234567.89"),
        ("1\u202f234,5", "1234.5"),
        ("1'234.50", "1234.50"),
        ("1.234.567", "1234567"),
        ("1,234,567", "1234567"),
        ("0,123", "0.123"),
        (",5", "0.5"),
        ("1,5E+3", "1500"),
        ("42", "42"),
        ("+7", "7"),
    ],
)
def test_parse_decimal(raw, expected):
    assert parse_decimal(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "decimal_comma", "expected"),
    [("1,234", True, "1.234"), ("1,234", False, "1234"), ("1.234", True, "1234"), ("1.234", False, "1.234")],
)
def test_an_ambiguous_number_follows_the_files_habit(raw, decimal_comma, expected):
    assert parse_decimal(raw, decimal_comma=decimal_comma) == Decimal(expected)


def test_an_ambiguous_number_without_a_habit_is_a_problem():
    assert problem(parse_decimal, "1,234") == "ambiguous number: 1,234 (is the comma or the dot the decimal separator?)"


@pytest.mark.parametrize("raw", ["abc", "1.2.3,4,5", "1,23,4", "12a", "1.234,", "--3", "1,2.3", "NaN", "Infinity", "."])
def test_not_a_number(raw):
    assert problem(parse_decimal, raw, decimal_comma=True) == f"not a number: {raw}"


def test_parse_int():
    assert parse_int("12") == 12
    assert parse_int("1.000", decimal_comma=True) == 1000
    assert parse_int("-3") == -3
    assert problem(parse_int, "2,5", decimal_comma=True) == "not a whole number: 2,5"


@pytest.mark.parametrize(
    ("samples", "default", "expected"),
    [
        (["1.234,56", "12,5", "7"], False, True),
        (["1,234.56", "12.5", "7"], True, False),
        (["1.234.567", "3"], False, True),  # a repeated dot groups thousands
        (["1,234", "2,500", "7"], False, False),  # nothing settles it: the default
        (["1,234", "2,500", "7"], True, True),
        ([], True, True),
        (["12,5", "12,5", "3.75"], False, True),  # the majority
    ],
)
def test_guess_decimal_comma(samples, default, expected):
    assert guess_decimal_comma(samples, default=default) is expected


# --- booleans ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["sì", "Si", "SÌ", "yes", "Y", "true", "VERO", "1", "x", "X", "✓"])
def test_true(raw):
    assert parse_bool(raw) is True


@pytest.mark.parametrize("raw", ["no", "No", "false", "Falso", "0", "n", "off"])
def test_false(raw):
    assert parse_bool(raw) is False


def test_not_a_boolean():
    assert problem(parse_bool, "forse") == "not yes or no: forse"


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03/04/2024", dt.date(2024, 4, 3)),
        ("3/4/2024", dt.date(2024, 4, 3)),
        ("03-04-2024", dt.date(2024, 4, 3)),
        ("03.04.2024", dt.date(2024, 4, 3)),
        ("2024-04-03", dt.date(2024, 4, 3)),
        ("2024/04/03", dt.date(2024, 4, 3)),
        ("20240403", dt.date(2024, 4, 3)),
        ("3 marzo 2024", dt.date(2024, 3, 3)),
        ("3 Marzo 2024", dt.date(2024, 3, 3)),
        ("lunedì 4 mar. 2024", dt.date(2024, 3, 4)),
        ("1° maggio 2024", dt.date(2024, 5, 1)),
        ("March 3, 2024", dt.date(2024, 3, 3)),
        ("3rd of March 2024", dt.date(2024, 3, 3)),
        ("Sun, 3 Mar 2024", dt.date(2024, 3, 3)),
        ("2024-04-03T10:30:00", dt.date(2024, 4, 3)),  # an XLSX date-time in a date field: its date
        ("03/04/2024 10:30", dt.date(2024, 4, 3)),
        ("29/02/2024", dt.date(2024, 2, 29)),
    ],
)
def test_parse_date(raw, expected):
    assert parse_date(raw) == expected


def test_parse_date_month_first():
    assert parse_date("04/03/2024", day_first=False) == dt.date(2024, 4, 3)
    assert parse_date("12/31/1980", day_first=False) == dt.date(1980, 12, 31)
    assert parse_date("2024-04-03", day_first=False) == dt.date(2024, 4, 3)  # ISO is always year-month-day


def test_two_digit_years_are_at_most_ten_years_ahead():
    this_year = dt.date.today().year
    assert parse_date(f"01/01/{(this_year + 10) % 100:02d}").year == this_year + 10
    assert parse_date(f"01/01/{(this_year + 11) % 100:02d}").year == this_year + 11 - 100


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("31/02/2024", "not a date: 31/02/2024"),
        ("29/02/2023", "not a date: 29/02/2023"),
        ("00/01/2024", "not a date: 00/01/2024"),
        ("2024-13-01", "not a date: 2024-13-01"),
        ("01/13/2024", "not a date: 01/13/2024 (this column's dates are day/month/year)"),
        ("32 marzo 2024", "not a date: 32 marzo 2024"),
        ("3 brumaio 2024", "not a date: 3 brumaio 2024"),
        ("domani", "not a date: domani"),
        ("12345", "not a date: 12345"),
        ("01/01/1066", "not a plausible year: 01/01/1066"),
        ("03/04/2024 25:00", "not a time: 03/04/2024 25:00"),
    ],
)
def test_impossible_dates(raw, reason):
    assert problem(parse_datetime if ":" in raw else parse_date, raw) == reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03/04/2024 10:30", dt.datetime(2024, 4, 3, 8, 30, tzinfo=UTC)),  # summer time in Rome
        ("03/01/2024 10:30", dt.datetime(2024, 1, 3, 9, 30, tzinfo=UTC)),  # winter time
        ("03/01/2024 10.30", dt.datetime(2024, 1, 3, 9, 30, tzinfo=UTC)),
        ("03/01/2024 ore 10:30", dt.datetime(2024, 1, 3, 9, 30, tzinfo=UTC)),
        ("2024-01-03T10:30:15.250", dt.datetime(2024, 1, 3, 9, 30, 15, 250000, tzinfo=UTC)),
        ("2024-01-03T10:30:00Z", dt.datetime(2024, 1, 3, 10, 30, tzinfo=UTC)),
        ("2024-01-03 10:30:00+05:00", dt.datetime(2024, 1, 3, 5, 30, tzinfo=UTC)),
        ("2024-01-03", dt.datetime(2024, 1, 2, 23, 0, tzinfo=UTC)),  # midnight in Rome
        ("January 3, 2024 10:30 PM", dt.datetime(2024, 1, 3, 21, 30, tzinfo=UTC)),
        ("Wed, 3 Jan 2024 10:30:00 +0100", dt.datetime(2024, 1, 3, 9, 30, tzinfo=UTC)),
    ],
)
def test_parse_datetime(raw, expected):
    parsed = parse_datetime(raw)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (["25/12/2024", "01/02/2024"], True),
        (["12/25/2024", "01/02/2024"], False),
        (["01/02/2024", "03/04/2024"], True),  # nothing settles it: the Italian order
        (["2024-12-25"], True),
        (["12/25/2024", "12/26/2024", "25/12/2024"], False),  # the majority
        (["12/25/2024 10:30"], False),
    ],
)
def test_guess_day_first(samples, expected):
    assert guess_day_first(samples) is expected


# --- emails, phones, countries -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mario.rossi@example.it", "mario.rossi@example.it"),
        ("  Mario.Rossi@Example.IT ", "Mario.Rossi@example.it"),
        ("Mario Rossi <mario@example.it>", "mario@example.it"),
        ("mailto:mario@example.it", "mario@example.it"),
        ("mario+news@sub.example.co.uk", "mario+news@sub.example.co.uk"),
        ("niccolò@università.it", "niccolò@università.it"),
    ],
)
def test_parse_email(raw, expected):
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "mario",
        "mario@",
        "@example.it",
        "mario@example",
        "mario@@example.it",
        "mario rossi@example.it",
        "mario@exa mple.it",
        "mario..rossi@example.it",
        ".mario@example.it",
        "mario@example.i",
        "mario@-example.it",
        "mario@example.it.",
        "mario@example,it",
    ],
)
def test_not_an_email(raw):
    assert problem(parse_email, raw) == f"not an email address: {raw}"


def test_two_emails_in_a_cell():
    assert (
        problem(parse_email, "a@example.it; b@example.it") == "more than one email address: a@example.it; b@example.it"
    )


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("347 123 4567", "IT", "+393471234567"),
        ("347-1234567", "IT", "+393471234567"),
        ("02 1234 5678", "IT", "+390212345678"),
        ("+39 02 12345678", "IT", "+390212345678"),
        ("0039 347 1234567", "IT", "+393471234567"),
        ("393471234567", "IT", "+393471234567"),  # an international number a spreadsheet kept without its "+"
        ("(030) 1234567", "DE", "+49301234567"),
        ("+1 (650) 253-0000", "IT", "+16502530000"),
        ("02 1234 5678 int. 23", "IT", "+390212345678"),
    ],
)
def test_parse_phone(raw, region, expected):
    assert parse_phone(raw, region=region) == expected


@pytest.mark.parametrize("raw", ["12", "abc", "347 123 4567 8901 2345", "call me", "+39", "3471234567a"])
def test_not_a_phone(raw):
    assert problem(parse_phone, raw) == f"not a phone number: {raw}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Italia", "IT"),
        ("italy", "IT"),
        ("IT", "IT"),
        ("ITA", "IT"),
        ("Germania", "DE"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("Svizzera", "CH"),
        ("Regno Unito", "GB"),
        ("UK", "GB"),
        ("Stati Uniti", "US"),
        ("USA", "US"),
        ("Olanda", "NL"),
        ("Paesi Bassi", "NL"),
        ("Città del Vaticano", "VA"),
        ("San Marino", "SM"),
        ("Côte d’Ivoire", "CI"),
    ],
)
def test_parse_country(raw, expected):
    assert parse_country(raw) == expected


@pytest.mark.parametrize("raw", ["Narnia", "Europa", "ZZ", "001"])
def test_not_a_country(raw):
    assert problem(parse_country, raw) == f"not a country: {raw}"


# --- choices -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("customer", "customer"),
        ("Cliente", "customer"),
        ("CLIENTE", "customer"),
        ("former_customer", "former_customer"),
        ("Former customer", "former_customer"),
        ("ex cliente", "former_customer"),
        ("Ex-Cliente", "former_customer"),
        ("opportunità", "opportunity"),
        ("Opportunita", "opportunity"),
        ("iscritto", "subscriber"),
        ("qualificato", "qualified"),
    ],
)
def test_parse_choice_by_value_or_label_in_either_language(raw, expected):
    assert parse_choice(raw, LIFECYCLE_STAGES, synonyms=LIFECYCLE_SYNONYMS) == expected


def test_parse_choice_without_synonyms_matches_values_and_labels():
    assert parse_choice("Former Customer", LIFECYCLE_STAGES) == "former_customer"
    assert problem(parse_choice, "ex cliente", LIFECYCLE_STAGES) == "not one of the choices: ex cliente"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("25", "10-49"), ("1", "1-9"), ("5000", "1000+"), ("10–49", "10-49"), ("media impresa", "50-249")],
)
def test_a_number_picks_its_range(raw, expected):
    assert parse_choice(raw, COMPANY_SIZES, synonyms=COMPANY_SIZE_SYNONYMS) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("it", "it"), ("Italiano", "it"), ("Italian", "it"), ("it-IT", "it"), ("en_GB", "en"), ("tedesco", "de")],
)
def test_languages(raw, expected):
    assert parse_choice(raw, language_choices(), synonyms=language_synonyms()) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EUR", "EUR"),
        ("eur", "EUR"),
        ("€", "EUR"),
        ("Euro", "EUR"),
        ("$", "USD"),
        ("dollaro statunitense", "USD"),
        ("£", "GBP"),
        ("franco svizzero", "CHF"),
    ],
)
def test_currencies(raw, expected):
    assert parse_choice(raw, currency_choices(), synonyms=currency_synonyms()) == expected


def test_not_a_choice():
    assert problem(parse_choice, "boh", LIFECYCLE_STAGES, synonyms=LIFECYCLE_SYNONYMS) == "not one of the choices: boh"
