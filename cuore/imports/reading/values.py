"""Parse the text of one cell into a typed value, or say in a few words why it is not one.

Every parser takes the raw cell (a ``str``), strips it, and either returns the value or raises
``ValueProblem`` with a short reason a user can read. Parsers never guess per value where a file-wide
habit decides (decimal comma, day before month): the caller guesses it once from samples
(``guess_decimal_comma``, ``guess_day_first``) and passes it in.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.utils.translation import gettext_lazy as _

LOCAL_ZONE = ZoneInfo("Europe/Rome")
UTC = dt.UTC

_SHOWN = 30  # characters of a bad value quoted back in a reason


class ValueProblem(ValueError):
    """A cell that cannot be read as the field's type; ``str()`` is the reason, in the active language."""

    def __init__(self, reason: Any, **params: Any):
        super().__init__(reason)
        self.reason = reason
        self.params = params

    def __str__(self) -> str:
        # Formatted here, not when raised, so a lazy reason is rendered in the language active when shown.
        text = str(self.reason)
        return text % self.params if self.params else text


def shown(raw: str) -> str:
    """Return ``raw`` short enough to quote back in a reason: ``=HYPERLINK("http://e…``."""
    raw = raw.strip()
    return raw if len(raw) <= _SHOWN else raw[: _SHOWN - 1] + "…"


@functools.lru_cache(maxsize=8192)  # the same words recur down a column: "Italia", "sì", "cliente"
def fold(text: str) -> str:
    """Return ``text`` lower-cased, without accents, punctuation as single spaces: ``Città_Natale`` → ``citta natale``."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(_NOT_WORD.sub(" ", plain).split())


_NOT_WORD = re.compile(r"[\W_]+")


# --- text -------------------------------------------------------------------------------------------

# A cell a spreadsheet would evaluate: "=" followed by anything; "+", "-" or "@" followed by a function
# call (possibly after digits and operators: "-2+HYPERLINK(") or a DDE / sheet reference ("+cmd|' /C calc'!A0").
_FORMULA_CALL = re.compile(r"[\s\d.,+\-*/^&()%]*[A-Za-z_][\w.]*\(")
_FORMULA_REF = re.compile(r"[A-Za-z_]\w*\s*\||!\$?[A-Za-z]{1,3}\$?\d")
# C0 and C1 controls and DEL; tab, line feed and carriage return are allowed inside a cell (multi-line notes).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def looks_like_formula(text: str) -> bool:
    """Return whether a spreadsheet opening ``text`` (already stripped) would run it as a formula."""
    if len(text) < 2 or text[0] not in "=+-@":
        return False
    rest = text[1:]
    if text[0] == "=":
        return bool(rest.strip())
    return bool(_FORMULA_CALL.match(rest) or _FORMULA_REF.search(rest))


def parse_text(raw: str, *, max_length: int | None) -> str:
    """Return the stripped text; reject formulas (CSV injection), control characters and text too long."""
    text = raw.strip()
    if looks_like_formula(text):
        raise ValueProblem(_("looks like a formula: %(value)s"), value=shown(text))
    if _CONTROL.search(text):
        raise ValueProblem(_("contains control characters"))
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if max_length is not None and len(text) > max_length:
        raise ValueProblem(
            _("too long: %(length)s characters, at most %(max)s"), length=f"{len(text):,}", max=max_length
        )
    return text


# --- numbers ----------------------------------------------------------------------------------------

# Currency signs and codes allowed before or after an amount: "€ 12", "12 EUR", "USD 3.50", "12,50 €".
_CURRENCY = r"(?:€|\$|£|¥|₣|eur|euro|euros|usd|us\$|gbp|chf|jpy)"
_CURRENCY_AROUND = re.compile(rf"^\s*{_CURRENCY}\s*|\s*{_CURRENCY}\s*$", re.IGNORECASE)
# Spaces (also no-break and thin) and apostrophes used as thousands separators: "1 234,50", "1'234.50".
_GROUPING = re.compile(r"[\s\u00a0\u2009\u202f'’]")
_DIGITS_AND_SEPARATORS = re.compile(r"\d*[.,]?\d[\d.,]*|\d+")
_EXPONENT = re.compile(r"(\d+(?:[.,]\d+)?)[eE]([+-]?\d{1,3})")


def _number_parts(raw: str) -> tuple[bool, str]:
    """Return (negative, body) where body holds only digits, dots and commas; raise if anything else is left."""
    text = raw.strip().replace("\u2212", "-")  # the typographic minus
    negative = False
    if text.startswith("(") and text.endswith(")"):  # accounting negatives: (12.50)
        negative, text = True, text[1:-1]
    text = _CURRENCY_AROUND.sub("", text)
    if text.startswith(("-", "+")):
        negative = negative or text[0] == "-"
        text = text[1:]
    elif text.endswith("-"):  # some ERPs write negatives as "12,50-"
        negative, text = True, text[:-1]
    text = _CURRENCY_AROUND.sub("", text)
    body = _GROUPING.sub("", text)
    return negative, body


def _digits_from(body: str, decimal_comma: bool | None) -> str:
    """Return ``body`` as a plain ``1234.56`` string; raise when it is not a number or is ambiguous."""
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        decimal = "," if body.rfind(",") > body.rfind(".") else "."
        grouping = "." if decimal == "," else ","
        whole, fraction = body.rsplit(decimal, 1)
        if decimal in whole or not fraction or not _grouped(whole, grouping):
            raise ValueError
        return whole.replace(grouping, "") + "." + fraction
    if not commas and not dots:
        return body
    separator = "," if commas else "."
    if body.count(separator) > 1:  # only thousands separators repeat: 1.234.567
        if not _grouped(body, separator):
            raise ValueError
        return body.replace(separator, "")
    whole, fraction = body.split(separator)
    if not fraction:
        raise ValueError
    if len(fraction) != 3 or whole in {"", "0"} or len(whole) > 3 or whole.startswith("0"):
        return (whole or "0") + "." + fraction
    # "1,234" or "1.234": a decimal separator or a thousands one; the file's habit decides.
    if decimal_comma is None:
        raise AmbiguousNumber
    is_decimal = (separator == ",") == decimal_comma
    return whole + "." + fraction if is_decimal else whole + fraction


class AmbiguousNumber(ValueError):
    pass


def _grouped(text: str, separator: str) -> bool:
    """Return whether ``text`` is digits grouped by three with ``separator``: ``1.234.567``."""
    return bool(re.fullmatch(rf"\d{{1,3}}(?:{re.escape(separator)}\d{{3}})*", text))


def parse_decimal(raw: str, *, decimal_comma: bool | None = None) -> Decimal:
    """Return the number in ``raw`` ("1.234,56", "1,234.56", "€ 12", "-3,5", "(12.50)", "12,50-").

    ``decimal_comma`` settles "1,234" and "1.234" (a comma or a dot followed by exactly three digits);
    when it is None such a value is a problem rather than a guess.
    """
    negative, body = _number_parts(raw)
    exponent = _EXPONENT.fullmatch(body)
    try:
        if exponent:  # 1,5E+3 or 1.5e3, as spreadsheets write large numbers
            digits = exponent.group(1).replace(",", ".") + "e" + exponent.group(2)
        elif _DIGITS_AND_SEPARATORS.fullmatch(body) and any(ch.isdigit() for ch in body):
            digits = _digits_from(body, decimal_comma)
        else:
            raise ValueError
        value = Decimal(digits)
        if exponent:
            value = Decimal(format(value, "f"))
    except AmbiguousNumber:
        raise ValueProblem(
            _("ambiguous number: %(value)s (is the comma or the dot the decimal separator?)"), value=shown(raw)
        ) from None
    except (ValueError, InvalidOperation):
        raise ValueProblem(_("not a number: %(value)s"), value=shown(raw)) from None
    return -value if negative else value


def parse_int(raw: str, *, decimal_comma: bool | None = None) -> int:
    """Return the whole number in ``raw`` ("1.234" with a decimal comma, "12", "-3"); reject fractions."""
    text = raw.strip()
    if text.isdigit():
        return int(text)
    value = parse_decimal(text, decimal_comma=decimal_comma)
    if value != value.to_integral_value():
        raise ValueProblem(_("not a whole number: %(value)s"), value=shown(raw))
    return int(value)


def guess_decimal_comma(samples: Iterable[str], *, default: bool = True) -> bool:
    """Return whether the file writes decimals with a comma, from the values that say so unambiguously.

    Each sample votes when it settles the question ("1.234,56", "12,5", "1,234,567" vote for one side;
    "1,234", "12" and "1234" do not). The majority wins; without votes, ``default``.
    """
    comma = dot = 0
    for raw in samples:
        try:
            _negative, body = _number_parts(raw)
        except ValueError:
            continue
        if not _DIGITS_AND_SEPARATORS.fullmatch(body):
            continue
        commas, dots = body.count(","), body.count(".")
        if commas and dots:
            if body.rfind(",") > body.rfind("."):
                comma += 1
            else:
                dot += 1
        elif commas or dots:
            separator = "," if commas else "."
            if body.count(separator) > 1:  # a repeated separator groups thousands: the other one is decimal
                comma, dot = (comma + 1, dot) if separator == "." else (comma, dot + 1)
                continue
            whole, fraction = body.split(separator)
            if len(fraction) != 3 or whole in {"", "0"} or len(whole) > 3 or whole.startswith("0"):
                comma, dot = (comma + 1, dot) if separator == "," else (comma, dot + 1)
    if comma == dot:
        return default
    return comma > dot


# --- booleans ---------------------------------------------------------------------------------------

_TRUE = {"si", "s", "yes", "y", "true", "t", "vero", "v", "1", "x", "on", "ok", "✓", "✔", "☑"}
_FALSE = {"no", "n", "false", "f", "falso", "0", "off", "✗", "✘", "☐"}


def parse_bool(raw: str) -> bool:
    """Return True for sì / si / yes / true / vero / 1 / x, False for no / false / falso / 0."""
    text = raw.strip()
    key = fold(text) or text.casefold()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueProblem(_("not yes or no: %(value)s"), value=shown(raw))


# --- dates ------------------------------------------------------------------------------------------

_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})")
_ISO_DATE = re.compile(r"(\d{4})([/.\-])(\d{1,2})\2(\d{1,2})")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TIME = re.compile(
    r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(am|pm|a\.m\.|p\.m\.)?"
    r"\s*(z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
# A date, then "T" or spaces (and optionally "ore", "alle", "at"), then a time.
_DATE_AND_TIME = re.compile(
    r"(?P<date>.+?)[,\s]*(?:T|\s+(?:ore|alle|at|h)?\s*)(?P<time>\d{1,2}[:.]\d{2}\b.*)", re.IGNORECASE
)
_WORDS = re.compile(r"[^\W\d_]+\.?|\d+")
_FILLER = {"of", "the", "de", "del", "di", "st", "nd", "rd", "th", "il", "lo", "le"}
YEARS = range(1800, 2201)


@functools.cache
def _month_names() -> dict[str, int]:
    from babel import Locale

    names: dict[str, int] = {}
    for code in ("en", "it"):
        locale = Locale(code)
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in locale.months[context][width].items():
                    names[fold(name)] = number
    names.update({"sept": 9, "sett": 9})
    return names


@functools.cache
def _day_names() -> frozenset[str]:
    from babel import Locale

    names: set[str] = set()
    for code in ("en", "it"):
        locale = Locale(code)
        for width in ("wide", "abbreviated"):
            names.update(fold(name) for name in locale.days["format"][width].values())
    return frozenset(names)


def _full_year(year: str) -> int:
    """Return a four-digit year; two digits mean the century that puts the date at most ten years ahead."""
    if len(year) == 4:
        return int(year)
    short = int(year)
    this_year = dt.date.today().year
    return 2000 + short if 2000 + short <= this_year + 10 else 1900 + short


def _make_date(year: int, month: int, day: int, raw: str) -> dt.date:
    if year not in YEARS:
        raise ValueProblem(_("not a plausible year: %(value)s"), value=shown(raw))
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueProblem(_("not a date: %(value)s"), value=shown(raw)) from None


def _date_only(text: str, raw: str, day_first: bool) -> dt.date:
    if match := _ISO_DATE.fullmatch(text):
        return _make_date(int(match[1]), int(match[3]), int(match[4]), raw)
    if match := _NUMERIC_DATE.fullmatch(text):
        first, second, year = int(match[1]), int(match[3]), _full_year(match[4])
        day, month = (first, second) if day_first else (second, first)
        if month > 12 and day <= 12:
            order = _("day/month/year") if day_first else _("month/day/year")
            raise ValueProblem(
                _("not a date: %(value)s (this column's dates are %(order)s)"), value=shown(raw), order=order
            )
        return _make_date(year, month, day, raw)
    if match := _COMPACT_DATE.fullmatch(text):
        return _make_date(int(match[1]), int(match[2]), int(match[3]), raw)
    return _date_in_words(text, raw)


def _date_in_words(text: str, raw: str) -> dt.date:
    """Read "3 marzo 2024", "lunedì 3 mar. 2024", "March 3, 2024", "3rd of March 2024", "1° maggio 2024"."""
    months, days = _month_names(), _day_names()
    month: int | None = None
    numbers: list[str] = []
    for token in _WORDS.findall(text.replace("°", " ")):
        if token.isdigit():
            numbers.append(token)
            continue
        word = fold(token)
        if word in months and month is None:
            month = months[word]
        elif word not in days and word not in _FILLER:
            raise ValueProblem(_("not a date: %(value)s"), value=shown(raw))
    if month is None or len(numbers) != 2:
        raise ValueProblem(_("not a date: %(value)s"), value=shown(raw))
    if len(numbers[0]) <= 2 and len(numbers[1]) in {2, 4}:
        day, year = int(numbers[0]), _full_year(numbers[1])
    elif len(numbers[0]) == 4 and len(numbers[1]) <= 2:  # "2024 March 3"
        year, day = int(numbers[0]), int(numbers[1])
    else:
        raise ValueProblem(_("not a date: %(value)s"), value=shown(raw))
    return _make_date(year, month, day, raw)


def _split_time(text: str) -> tuple[str, str | None]:
    if match := _DATE_AND_TIME.fullmatch(text):
        return match["date"].strip(" ,"), match["time"].strip()
    return text, None


def parse_date(raw: str, *, day_first: bool = True) -> dt.date:
    """Return the date in ``raw``: dd/mm/yyyy (or mm/dd/yyyy when not ``day_first``), dd-mm-yyyy, dd.mm.yyyy,
    yyyy-mm-dd, yyyymmdd, "3 marzo 2024", "March 3, 2024"; a time after the date is ignored."""
    text = raw.strip()
    date_part, _time = _split_time(text)
    return _date_only(date_part, raw, day_first)


def _parse_time(text: str, raw: str) -> tuple[dt.time, dt.tzinfo | None]:
    match = _TIME.fullmatch(text)
    if not match:
        raise ValueProblem(_("not a time: %(value)s"), value=shown(raw))
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    micro = int((match[4] or "0")[:6].ljust(6, "0"))
    meridiem = (match[5] or "").lower().replace(".", "")
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueProblem(_("not a time: %(value)s"), value=shown(raw))
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    zone = (match[6] or "").lower()
    tz: dt.tzinfo | None = None
    if zone in {"z", "utc", "gmt"}:
        tz = UTC
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if offset > dt.timedelta(hours=14):
            raise ValueProblem(_("not a time: %(value)s"), value=shown(raw))
        tz = dt.timezone(sign * offset)
    try:
        return dt.time(hour, minute, second, micro), tz
    except ValueError:
        raise ValueProblem(_("not a time: %(value)s"), value=shown(raw)) from None


def parse_datetime(raw: str, *, day_first: bool = True) -> dt.datetime:
    """Return an aware UTC datetime; a value without an offset is read in Europe/Rome, a date alone at midnight."""
    text = raw.strip()
    date_part, time_part = _split_time(text)
    day = _date_only(date_part, raw, day_first)
    if time_part is None:
        moment, tz = dt.time(0, 0), None
    else:
        moment, tz = _parse_time(time_part, raw)
    local = dt.datetime.combine(day, moment, tzinfo=tz or LOCAL_ZONE)
    return local.astimezone(UTC)


def guess_day_first(samples: Iterable[str]) -> bool:
    """Return whether a column writes the day before the month: a first number above 12 votes yes,
    a second one above 12 votes no; the majority wins, and without votes the Italian order (day first)."""
    day_first = month_first = 0
    for raw in samples:
        match = _NUMERIC_DATE.match(raw.strip())
        if not match:
            continue
        first, second = int(match[1]), int(match[3])
        if first > 12 >= second:
            day_first += 1
        elif second > 12 >= first:
            month_first += 1
    return month_first <= day_first


# --- email, phone, country --------------------------------------------------------------------------

_LOCAL_PART = re.compile(r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"(?:[^\W_]|[^\W_][\w-]{0,61}[^\W_])", re.UNICODE)
_TLD = re.compile(r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})")
_ANGLE = re.compile(r"[^<>]*<([^<>]+)>")


def parse_email(raw: str) -> str:
    """Return the address with its domain lower-cased; accept "Name <local@domain.tld>" and "mailto:"."""
    text = raw.strip()
    if match := _ANGLE.fullmatch(text):
        text = match[1].strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    problem = ValueProblem(_("not an email address: %(value)s"), value=shown(raw))
    if text.count("@") != 1:
        if text.count("@") > 1 and re.search(r"[,;\s]", text):
            raise ValueProblem(_("more than one email address: %(value)s"), value=shown(raw))
        raise problem
    local, domain = text.split("@")
    labels = domain.lower().split(".")
    if (
        len(text) > 254
        or len(local) > 64
        or not _LOCAL_PART.fullmatch(local)
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        or not _TLD.fullmatch(labels[-1])
    ):
        raise problem
    return f"{local}@{'.'.join(labels)}"


# An extension after the number: "ext. 23", "int. 23", "interno 23", "x23", "#23".
_EXTENSION = re.compile(r"\s*(?:ext\.?|int\.?|interno|x|#)\s*\d{1,6}$", re.IGNORECASE)


def parse_phone(raw: str, *, region: str = "IT") -> str:
    """Return the number in E.164 (``+393471234567``); "00" counts as "+", and a national number that is
    only valid read as international ("393471234567", as spreadsheets keep it) is read that way."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    problem = ValueProblem(_("not a phone number: %(value)s"), value=shown(raw))
    if not re.search(r"\d", text) or re.search(r"[^\d\s()+./\-–]", _EXTENSION.sub("", text)):
        raise problem
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise problem from None
    # Checking validity is slow: only when the digits begin with the region's country code ("39...").
    digits = re.sub(r"\D", "", text)
    if (
        not text.startswith("+")
        and digits.startswith(str(number.country_code))
        and not phonenumbers.is_valid_number(number)
    ):
        try:
            international = phonenumbers.parse("+" + text, None)
        except phonenumbers.NumberParseException:
            international = None
        if international is not None and phonenumbers.is_valid_number(international):
            number = international
    if not phonenumbers.is_possible_number(number):
        raise problem
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Names people write that CLDR does not list (its names are "Czechia", "Paesi Bassi", "Regno Unito"...).
_COUNTRY_ALIASES = {
    "england": "GB",
    "inghilterra": "GB",
    "scotland": "GB",
    "scozia": "GB",
    "wales": "GB",
    "galles": "GB",
    "great britain": "GB",
    "gran bretagna": "GB",
    "britain": "GB",
    "holland": "NL",
    "olanda": "NL",
    "the netherlands": "NL",
    "czech republic": "CZ",
    "repubblica ceca": "CZ",
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "united states of america": "US",
    "stati uniti d america": "US",
    "america": "US",
    "russian federation": "RU",
    "federazione russa": "RU",
    "south korea": "KR",
    "corea": "KR",
    "vatican": "VA",
    "vaticano": "VA",
    "citta del vaticano": "VA",
    "repubblica di san marino": "SM",
    "ivory coast": "CI",
    "costa d avorio": "CI",
    "turkey": "TR",
    "turchia": "TR",
}


@functools.cache
def _countries() -> dict[str, str]:
    from babel import Locale
    from babel.core import get_global

    index: dict[str, str] = {}
    for code in ("en", "it"):
        for territory, name in Locale(code).territories.items():
            if len(territory) == 2 and territory.isalpha() and territory not in {"ZZ", "XA", "XB", "EU", "EZ", "UN"}:
                index[fold(name)] = territory
                index[territory.lower()] = territory
    for alias, targets in get_global("territory_aliases").items():
        # Alpha-3 codes (ITA, DEU) and retired two-letter ones (UK); a split country has several targets.
        if alias.isalpha() and len(targets) == 1 and targets[0] in index.values():
            index.setdefault(alias.lower(), targets[0])
    index.update(_COUNTRY_ALIASES)
    return index


def parse_country(raw: str) -> str:
    """Return the ISO 3166 alpha-2 code: "Italia", "Italy", "IT", "ITA", "Germania" → "IT", "IT", "IT", "IT", "DE"."""
    key = fold(raw)
    code = _countries().get(key)
    if code is None:
        raise ValueProblem(_("not a country: %(value)s"), value=shown(raw))
    return code


# --- choices ----------------------------------------------------------------------------------------

_RANGE = re.compile(r"(\d+)\s*[-–]\s*(\d+)|(\d+)\s*\+")
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})[-_][A-Za-z0-9]{2,8}")


def _choice_key(text: str) -> str:
    # Symbols have no letters to fold ("€", "$"): they are their own key.
    return fold(text) or text.strip().casefold()


def choice_index(choices: Mapping[str, Any], synonyms: Mapping[str, Iterable[str]] | None = None) -> dict[str, str]:
    """Return every folded spelling of the choices (value, label, synonyms) → its value, for ``lookup_choice``."""
    index: dict[str, str] = {}
    for value, spellings in (synonyms or {}).items():
        for spelling in spellings:
            index[_choice_key(spelling)] = value
    for value, label in choices.items():
        index[_choice_key(str(label))] = value
        index[_choice_key(value)] = value
    return index


def lookup_choice(raw: str, index: Mapping[str, str]) -> str:
    """Return the value ``raw`` names in an index made by ``choice_index``; see ``parse_choice``."""
    value = index.get(_choice_key(raw))
    if value is not None:
        return value
    text = raw.strip()
    if tag := _LANGUAGE_TAG.fullmatch(text):
        value = index.get(tag[1].lower())
        if value is not None:
            return value
    if text.isdigit():
        number = int(text)
        for value in set(index.values()):
            if match := _RANGE.fullmatch(value):
                low, high = (int(match[1]), int(match[2])) if match[1] else (int(match[3]), None)
                if number >= low and (high is None or number <= high):
                    return value
    raise ValueProblem(_("not one of the choices: %(value)s"), value=shown(raw))


def parse_choice(raw: str, choices: Mapping[str, Any], *, synonyms: Mapping[str, Iterable[str]] | None = None) -> str:
    """Return the value of the choice ``raw`` names: its value or its label, whatever the case and accents.

    ``choices`` maps each value to its label; ``synonyms`` adds other spellings per value (the Italian and
    English labels: "ex cliente", "former customer"). When the values are ranges ("10-49", "1000+") a whole
    number picks its range. A language tag ("it-IT", "en_GB") falls back to its language ("it", "en").
    """
    return lookup_choice(raw, choice_index(choices, synonyms))
