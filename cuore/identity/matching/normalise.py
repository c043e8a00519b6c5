"""Normalise person records for matching, and hold them as columns: the first stage of identity resolution.

Every field becomes a plain string, "" when missing or unusable, so that later stages compare strings only:

- names (first_name, last_name, city, province): Unicode NFKD with the accents dropped, case-folded,
  apostrophes removed ("D'Angelo" -> "dangelo"), any other punctuation, digit or symbol turned into a
  space, spaces collapsed; placeholders such as "n/a", "unknown" or "xxx" become "". The first name is
  also read through a nickname table (Italian and English: "Beppe" -> "giuseppe", "Bob" -> "robert"),
  one word at a time, for the "same name or nickname" comparison level.
- email: trimmed and lower-cased; "" unless it looks like an address (one "@", a dot in the domain),
  and "" for a placeholder user name ("noemail@…", "nessuna@…").
- phone: E.164 ("+393331234567") by Google's libphonenumber rules (the phonenumbers package), the
  record's country (ISO 3166 alpha-2) giving the region of a national number, "IT" when it has none;
  "" when the number cannot be parsed, has an impossible length or is a placeholder (fewer than three
  different digits: "3333333333"). Italian numbers in the usual shapes
  ("+39 …", "0039 …", "3xx …", "0x …") take a shortcut with the same result, since the library costs
  about 11 µs a number.
- birth_date: ISO "YYYY-MM-DD" from a date, ISO text, "dd/mm/yyyy" (also with "-" or "."), "yyyy/mm/dd"
  or "yyyymmdd"; "" for an impossible date or a year outside 1850-2100.
- street (line1, line2): the name normaliser keeping digits, with Italian and English abbreviations
  written out (v./via, v.le/viale, p.zza/piazza, c.so/corso, st/street, rd/road, ave/avenue, …), the
  house-number markers ("n.", "n°", "civico") dropped and "1 / a" joined to "1a".
- postal_code and tax_code: upper case, letters and digits only; a tax code made of one repeated
  character ("0000000") is a placeholder and becomes "".
- country: ISO alpha-2, upper case; a few country names and alpha-3 codes are read too.

`prepare` turns the records into a `Prepared` set: one numpy object array per field, and the same
column as integer codes into its distinct values. Each normaliser runs once per distinct raw value
(and a phone once per distinct number and country), so a million records with many repeated names,
cities and dates take seconds. Derived columns (nickname-canonical first name, Soundex and phonetic
keys, birth year, value lengths and hashes…) are computed on first use, once per distinct value of
their source column, and kept on the set; comparing codes instead of strings makes equality tests
integer comparisons.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import phonenumbers

__all__ = [
    "FIELDS",
    "NICKNAMES",
    "Prepared",
    "canonical_first_name",
    "normalise_country",
    "normalise_date",
    "normalise_email",
    "normalise_name",
    "normalise_phone",
    "normalise_postcode",
    "normalise_street",
    "normalise_tax_code",
    "prepare",
    "phonetic_key",
    "soundex",
]

FIELDS = (
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "tax_code",
    "line1",
    "line2",
    "postal_code",
    "city",
    "province",
    "country",
)

# Letters that NFKD does not decompose into a base letter and a combining accent.
_LETTERS = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "ı": "i"})
_APOSTROPHES = str.maketrans(dict.fromkeys("'’‘`´ʼ′", ""))
_NOT_LETTER = re.compile(r"[\W\d_]+")
_NOT_WORD = re.compile(r"[\W_]+")
_PLACEHOLDER_NAMES = frozenset(
    {
        "na",
        "n a",
        "nd",
        "n d",
        "nn",
        "unknown",
        "sconosciuto",
        "null",
        "none",
        "xxx",
        "xx",
        "x",
        "test",
        "nome",
        "cognome",
    }
)


def _fold(value: Any) -> str:
    """Strip accents and case: 'Nicolò ÆRØ' -> 'nicolo aero'."""
    text = str(value)
    if text.isascii():
        # Most values: no accents to strip, and lower() is casefold() on ASCII (4x faster this way).
        return text.lower().translate(_APOSTROPHES)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    return text.casefold().translate(_LETTERS).translate(_APOSTROPHES)


def normalise_name(value: Any) -> str:
    """Lower-case a name, drop accents and punctuation, collapse spaces; "" when missing or a placeholder."""
    if value is None:
        return ""
    text = " ".join(_NOT_LETTER.sub(" ", _fold(value)).split())
    return "" if text in _PLACEHOLDER_NAMES else text


def _nicknames() -> dict[str, str]:
    groups = {
        # English
        "robert": "bob bobby rob robbie robby bert",
        "william": "bill billy will willie willy liam",
        "james": "jim jimmy jimmie jamie",
        "john": "jack johnny jon",
        "michael": "mike mikey mick mickey",
        "david": "dave davey davy",
        "richard": "dick rick ricky richie rich",
        "thomas": "tom tommy",
        "anthony": "tony",
        "andrew": "andy drew",
        "alexander": "alex alec",
        "benjamin": "ben benny",
        "christopher": "chris kit",
        "daniel": "dan danny",
        "edward": "ed eddie eddy ted teddy ned",
        "frederick": "fred freddie freddy",
        "gregory": "greg",
        "henry": "harry hal hank",
        "jeffrey": "jeff",
        "joseph": "joe joey",
        "joshua": "josh",
        "kenneth": "ken kenny",
        "lawrence": "larry",
        "matthew": "matt mat",
        "nicholas": "nick nicky",
        "patrick": "pat paddy",
        "peter": "pete",
        "philip": "phil",
        "ronald": "ron ronnie",
        "samuel": "sam sammy",
        "steven": "steve stevie stephen",
        "timothy": "tim timmy",
        "vincent": "vince",
        "walter": "walt wally",
        "zachary": "zach zack",
        "charles": "charlie chuck chas",
        "donald": "don donnie",
        "douglas": "doug",
        "gerald": "gerry jerry",
        "francis": "frank frankie",
        "jacob": "jake",
        "leonard": "len lenny",
        "raymond": "ray",
        "stanley": "stan",
        "stuart": "stu",
        "theodore": "theo",
        "elizabeth": "liz lizzie beth betty bess eliza libby",
        "katherine": "kate katie kathy cathy kat kitty catherine kathryn",
        "margaret": "maggie meg peggy",
        "jennifer": "jenny jen",
        "susan": "sue susie suzy",
        "deborah": "debbie deb",
        "rebecca": "becky",
        "abigail": "abby",
        "patricia": "patty trish tricia",
        "victoria": "vicky",
        "amanda": "mandy",
        "sarah": "sally sara",
        "jessica": "jess jessie",
        "pamela": "pam",
        "cynthia": "cindy",
        "barbara": "barb babs",
        "dorothy": "dotty dot",
        "anna": "annie",
        # Italian
        "giuseppe": "beppe peppe pino peppino pinuccio geppetto",
        "giuseppina": "giusy pina",
        "luigi": "gigi gino",
        "salvatore": "toto turi turiddu",
        "alessandro": "sandro",
        "alessandra": "sandra",
        "antonio": "nino tonino toni",
        "antonietta": "ninetta",
        "giovanni": "gianni nanni vanni",
        "francesco": "ciccio cecco checco",
        "filippo": "pippo",
        "beatrice": "bice",
        "elisabetta": "betta bettina",
        "domenico": "mimmo",
        "vincenzo": "enzo cenzo",
        "matteo": "teo",
        "federico": "fede",
        "massimo": "max",
        "ferdinando": "nando",
        "emanuele": "manu",
        "daniele": "dani",
        "carlo": "carletto",
        "stefania": "stefi",
        "nicola": "nico",
        "raffaele": "lello",
        "gabriele": "lele",
        "benedetto": "betto",
        "margherita": "ghita",
        "teresa": "teresina",
        "caterina": "rina",
        "guglielmo": "memmo",
        "girolamo": "momo",
        "pasquale": "pasqualino",
        "carmelo": "melo",
        "calogero": "lillo",
    }
    table: dict[str, str] = {}
    for canonical, nicknames in groups.items():
        for nickname in nicknames.split():
            table[nickname] = canonical
    return table


NICKNAMES: dict[str, str] = _nicknames()


def _canonical_from_normalised(name: str) -> str:
    return " ".join(NICKNAMES.get(word, word) for word in name.split())


def canonical_first_name(value: Any) -> str:
    """Normalise a first name and replace each of its words that is a nickname by the full name."""
    return _canonical_from_normalised(normalise_name(value))


_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


# User names that say "no address": typed into a mandatory field, they would make strangers match.
_PLACEHOLDER_EMAIL_USERS = frozenset(
    {"noemail", "nomail", "no.email", "no-email", "none", "no", "nessuna", "nessuno", "test", "prova", "fake", "xxx"}
)


def normalise_email(value: Any) -> str:
    """Trim and lower-case an email address; "" when it is not one or is a placeholder ("noemail@…")."""
    if value is None:
        return ""
    text = str(value).strip().lower()
    if text.startswith("mailto:"):
        text = text[7:]
    if not _EMAIL.fullmatch(text) or text.split("@", 1)[0] in _PLACEHOLDER_EMAIL_USERS:
        return ""
    return text


_PHONE_SEPARATORS = re.compile(r"[\s\-./]+")
# The shapes whose E.164 form libphonenumber gives as "+39" + the national number (checked in the tests).
_IT_INTERNATIONAL = re.compile(r"(?:\+|00)39(3\d{8,9}|0\d{5,10})")
_IT_NATIONAL = re.compile(r"3\d{8,9}|0\d{5,10}")


def normalise_phone(value: Any, region: str = "IT") -> str:
    """Write a phone number in E.164, national numbers read in `region`; "" when it is not a possible number.

    A number of fewer than three different digits after the country code ("0000000000", "3333333333")
    is a placeholder and becomes "" too.
    """
    if value is None:
        return ""
    text = str(value).strip()
    if not text:
        return ""
    compact = _PHONE_SEPARATORS.sub("", text)
    region = region or "IT"
    match = _IT_INTERNATIONAL.fullmatch(compact) if compact[0] == "+" or region == "IT" else None
    if match:
        result = "+39" + match.group(1)
    elif region == "IT" and _IT_NATIONAL.fullmatch(compact):
        result = "+39" + compact
    else:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return ""
        if not phonenumbers.is_possible_number(number):
            return ""
        result = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if len(set(str(number.national_number))) < 3:
            return ""
        return result
    return result if len(set(result[3:])) >= 3 else ""


_DATE_FORMATS = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?"), (1, 2, 3)),
    (re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})"), (3, 2, 1)),
    (re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"), (1, 2, 3)),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), (1, 2, 3)),
)


def _iso_date(year: int, month: int, day: int) -> str:
    if not 1850 <= year <= 2100:
        return ""
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return ""


def normalise_date(value: Any) -> str:
    """Write a date as ISO "YYYY-MM-DD"; "" when missing, unreadable or impossible."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return _iso_date(value.year, value.month, value.day)
    text = str(value).strip()
    for pattern, (year, month, day) in _DATE_FORMATS:
        match = pattern.fullmatch(text)
        if match:
            return _iso_date(int(match.group(year)), int(match.group(month)), int(match.group(day)))
    return ""


# Dotted abbreviations, written out before punctuation goes (afterwards "v.le" and "v. le" look alike).
_STREET_PATTERNS = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bv\.?\s*le\b\.?", " viale "),
        (r"\bp\.?\s*zz?a\b\.?", " piazza "),
        (r"\bp\.?\s*tta\b\.?", " piazzetta "),
        (r"\bp\.\s*le\b\.?", " piazzale "),
        (r"\bc\.?\s*so\b\.?", " corso "),
        (r"\bl\.?\s*go\b\.?", " largo "),
        (r"\bv\.?\s*lo\b\.?", " vicolo "),
        (r"\bc\.?\s*da\b\.?", " contrada "),
        (r"\bn\s*[°º]", " "),
        (r"[°º]", " "),
    )
)
_STREET_WORDS = {
    "pza": "piazza",
    "pzza": "piazza",
    "vle": "viale",
    "cso": "corso",
    "lgo": "largo",
    "loc": "localita",
    "fraz": "frazione",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "blvd": "boulevard",
    "ln": "lane",
    "dr": "drive",
    "ct": "court",
    "crt": "court",
    "pl": "place",
    "cres": "crescent",
    "cr": "crescent",
    "cct": "circuit",
    "cir": "circle",
    "tce": "terrace",
    "terr": "terrace",
    "hwy": "highway",
    "pde": "parade",
    "sq": "square",
    "mt": "mount",
    "gr": "grove",
    "esp": "esplanade",
    "cl": "close",
    "pkwy": "parkway",
}
_NUMBER_MARKERS = frozenset({"n", "nr", "no", "num", "civico"})
_NUMBER_AND_LETTER = re.compile(r"\b(\d+) ([a-z])\b")


def normalise_street(value: Any) -> str:
    """Normalise a street line: lower case, no accents or punctuation, abbreviations written out, number kept."""
    if value is None:
        return ""
    text = _fold(value)
    if "." in text or "°" in text or "º" in text:
        # Undotted forms ("vle", "pza") are single words, written out below.
        for pattern, replacement in _STREET_PATTERNS:
            text = pattern.sub(replacement, text)
    words = _NOT_WORD.sub(" ", text).split()
    out = []
    for position, word in enumerate(words):
        following = words[position + 1] if position + 1 < len(words) else ""
        if word in _NUMBER_MARKERS and following[:1].isdigit():
            continue
        if word == "v" and position == 0:
            word = "via"
        elif word == "st":
            # "St Kilda Road" is a saint; "Stanley St" is a street.
            word = "saint" if position == 0 and len(words) > 1 else "street"
        else:
            word = _STREET_WORDS.get(word, word)
        out.append(word)
    return _NUMBER_AND_LETTER.sub(r"\1\2", " ".join(out))


_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


def normalise_postcode(value: Any) -> str:
    """Upper-case a postal code and keep its letters and digits; "" unless 3 to 10 of them with a digit."""
    if value is None:
        return ""
    text = _NOT_ALNUM.sub("", _fold(value).upper())
    if not 3 <= len(text) <= 10 or not any(char.isdigit() for char in text):
        return ""
    return text


def normalise_tax_code(value: Any) -> str:
    """Upper-case a national personal id (codice fiscale, SSN…) and keep letters and digits; "" for a placeholder."""
    if value is None:
        return ""
    text = str(value).strip()
    if not (text.isascii() and text.isalnum()):
        text = _NOT_ALNUM.sub("", _fold(text).upper())
    text = text.upper()
    if len(text) < 5 or len(set(text)) == 1:
        return ""
    return text


_COUNTRY_NAMES = {
    "ITA": "IT",
    "ITALIA": "IT",
    "ITALY": "IT",
    "SMR": "SM",
    "SAN MARINO": "SM",
    "VAT": "VA",
    "CHE": "CH",
    "SVIZZERA": "CH",
    "SWITZERLAND": "CH",
    "FRA": "FR",
    "FRANCIA": "FR",
    "FRANCE": "FR",
    "DEU": "DE",
    "GERMANIA": "DE",
    "GERMANY": "DE",
    "ESP": "ES",
    "SPAGNA": "ES",
    "SPAIN": "ES",
    "AUT": "AT",
    "AUSTRIA": "AT",
    "GBR": "GB",
    "UK": "GB",
    "REGNO UNITO": "GB",
    "UNITED KINGDOM": "GB",
    "USA": "US",
    "STATI UNITI": "US",
    "UNITED STATES": "US",
    "AUS": "AU",
    "AUSTRALIA": "AU",
}


def normalise_country(value: Any) -> str:
    """Read a country as ISO 3166 alpha-2 (also a few names and alpha-3 codes); "" when unknown."""
    if value is None:
        return ""
    text = " ".join(_NOT_LETTER.sub(" ", _fold(value)).split()).upper()
    if len(text) == 2:
        return text
    return _COUNTRY_NAMES.get(text, "")


def soundex(value: str) -> str:
    """American Soundex of an already normalised name ("rossi" -> "R200"); "" when it has no Latin letter."""
    letters = [char for char in value if "a" <= char <= "z"]
    if not letters:
        return ""
    code = letters[0].upper()
    previous = _SOUNDEX_DIGITS.get(letters[0], "")
    for char in letters[1:]:
        digit = _SOUNDEX_DIGITS.get(char, "")
        if digit and digit != previous:
            code += digit
            if len(code) == 4:
                break
        if char not in "hw":
            # A vowel separates two equal codes ("tymczak"), h and w do not.
            previous = digit
    return code.ljust(4, "0")


_PHONETIC_SPELLINGS = (
    ("ph", "f"),
    ("gh", "g"),
    ("ch", "k"),
    ("ck", "k"),
    ("c", "k"),
    ("q", "k"),
    ("x", "ks"),
    ("z", "s"),
    ("w", "v"),
    ("y", "i"),
    ("j", "i"),
    ("h", ""),
)
_REPEATED = re.compile(r"(.)\1+")


def phonetic_key(value: str) -> str:
    """A spelling-tolerant key of a normalised name that keeps its vowels ("Rossi", "Rosi" -> "rosi"; "Russo" -> "ruso").

    Soundex drops vowels and so puts Rossi, Russo, Ricci and Rizzo in one code: too coarse a block for
    a million Italian records. This key only unifies letters that sound alike (c/k/q, z/s, y/j/i, w/v,
    ph/f, a silent h) and collapses double letters, the commonest misspellings of Italian names.
    """
    text = "".join(char for char in value if "a" <= char <= "z")
    for spelling, sound in _PHONETIC_SPELLINGS:
        text = text.replace(spelling, sound)
    return _REPEATED.sub(r"\1", text)


_SOUNDEX_DIGITS = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def _factorise(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes (int64, one per value) and the distinct values in order of first appearance."""
    distinct = list(dict.fromkeys(values))
    index = {value: code for code, value in enumerate(distinct)}
    return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values)), distinct


def _apply_distinct(codes: np.ndarray, distinct: Sequence[Any], function: Callable[[Any], str]) -> _Coded:
    """Apply `function` once per distinct value; equal results share one code."""
    result_codes, results = _factorise([function(value) for value in distinct])
    return _Coded(result_codes[codes], np.array(results, dtype=object))


@dataclass
class _Coded:
    """A column held as codes into its distinct values: values == distinct[codes]."""

    codes: np.ndarray
    distinct: np.ndarray

    def values(self) -> np.ndarray:
        return self.distinct[self.codes]


_FIELD_NORMALISERS: dict[str, Callable[[Any], str]] = {
    "first_name": normalise_name,
    "last_name": normalise_name,
    "birth_date": normalise_date,
    "email": normalise_email,
    "tax_code": normalise_tax_code,
    "line1": normalise_street,
    "line2": normalise_street,
    "postal_code": normalise_postcode,
    "city": normalise_name,
    "province": normalise_name,
    "country": normalise_country,
}


def _first3(value: str) -> str:
    return value.replace(" ", "")[:3]


def _birth_month_day_swapped(value: str) -> str:
    # Day and month read the other way round; "" when that is no date or the same date.
    if not value or value[5:7] == value[8:10]:
        return ""
    return _iso_date(int(value[:4]), int(value[8:10]), int(value[5:7]))


def _street_words_sorted(value: str) -> str:
    return " ".join(sorted(value.split()))


_STREET_FILLER = frozenset(
    [
        "via",
        "viale",
        "piazza",
        "piazzale",
        "piazzetta",
        "corso",
        "largo",
        "vicolo",
        "contrada",
        "strada",
        "localita",
        "frazione",
        "borgo",
        "lungomare",
        "street",
        "road",
        "avenue",
        "boulevard",
        "lane",
        "drive",
        "court",
        "place",
        "crescent",
        "circuit",
        "circle",
        "terrace",
        "highway",
        "parade",
        "square",
        "grove",
        "esplanade",
        "close",
        "parkway",
        "way",
        "del",
        "della",
        "dei",
        "di",
        "delle",
        "dello",
        "degli",
        "d",
        "de",
        "la",
        "le",
        "il",
        "lo",
        "the",
        "of",
        "san",
        "santa",
        "santo",
        "sant",
        "s",
        "saint",
    ]
)


def _street_key(value: str) -> str:
    # House number + the first four letters of the street's own name ("via della rosa 12" -> "12|rosa"),
    # which survives a typo at the end of the name, a missing space and a changed street type.
    words = value.split()
    number = next((word for word in words if word[:1].isdigit()), "")
    name = next((word for word in words if word.isalpha() and word not in _STREET_FILLER), "")
    return f"{number}|{name[:4]}" if number and name else ""


# name -> (source column, function over its distinct values). Computed on first use, then kept.
_DERIVED: dict[str, tuple[str, Callable[[str], str]]] = {
    "first_canonical": ("first_name", _canonical_from_normalised),
    "first_compact": ("first_name", lambda value: value.replace(" ", "")),
    "last_compact": ("last_name", lambda value: value.replace(" ", "")),
    "first_sound": ("first_canonical", lambda value: soundex(value.replace(" ", ""))),
    "last_phonetic": ("last_name", phonetic_key),
    "last_multiword": ("last_name", lambda value: value if " " in value else ""),
    "last_sound": ("last_name", lambda value: soundex(value.replace(" ", ""))),
    "first_initial": ("first_name", lambda value: value[:1]),
    "first_canonical_initial": ("first_canonical", lambda value: value[:1]),
    "first_single_letter": ("first_name", lambda value: value if len(value) == 1 else ""),
    "last_initial": ("last_name", lambda value: value[:1]),
    "first3_first": ("first_canonical", _first3),
    "first3_last": ("last_name", _first3),
    "birth_year": ("birth_date", lambda value: value[:4]),
    "birth_year_month": ("birth_date", lambda value: value[:7]),
    "birth_digits": ("birth_date", lambda value: value.replace("-", "")),
    # With the year (its first 4 digits), a pre-filter for "within 1 edit" (see compare._within_one_edit).
    "birth_digits_tail": ("birth_digits", lambda value: value[5:]),
    "birth_swapped": ("birth_date", _birth_month_day_swapped),
    "email_user": ("email", lambda value: value.split("@", 1)[0]),
    "phone_last8": ("phone", lambda value: value[-8:] if len(value) >= 9 else ""),
    # First 6 and last 3 characters of numbers of 10 or more: a pre-filter for "within 1 edit".
    "phone_head": ("phone", lambda value: value[:6] if len(value) >= 10 else ""),
    "phone_tail": ("phone", lambda value: value[-3:] if len(value) >= 10 else ""),
    "line1_sorted": ("line1", _street_words_sorted),
    "street_key": ("line1", _street_key),
}


@dataclass
class Prepared:
    """Normalised records as columns: row i is record i, "" marks a missing value."""

    ids: np.ndarray
    columns: dict[str, np.ndarray]
    # Columns as codes into their distinct values, the derived columns, and value hashes: computed on
    # first use and kept, each derived value computed once per distinct source value.
    coded: dict[str, _Coded] = field(default_factory=dict, repr=False, compare=False)
    derived_columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    column_hashes: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, i: int) -> dict[str, str]:
        return {name: str(self.columns[name][i]) for name in FIELDS}

    def _coded(self, name: str) -> _Coded:
        if name not in self.coded:
            if name in self.columns:
                codes, distinct = _factorise(self.columns[name])
                self.coded[name] = _Coded(codes, np.array(distinct, dtype=object))
            else:
                source_name, function = _DERIVED[name]
                source = self._coded(source_name)
                self.coded[name] = _apply_distinct(source.codes, source.distinct, function)
        return self.coded[name]

    def codes(self, name: str) -> np.ndarray:
        """A column as int64 codes: within this set, equal values have equal codes."""
        return self._coded(name).codes

    def distinct(self, name: str) -> np.ndarray:
        """A column's distinct values (object array): column(name) == distinct(name)[codes(name)]."""
        return self._coded(name).distinct

    def lengths(self, name: str) -> np.ndarray:
        """The length of each value of a column (int64), computed once and kept."""
        key = "length:" + name
        if key not in self.derived_columns:
            coded = self._coded(name)
            distinct_lengths = np.fromiter(map(len, coded.distinct), dtype=np.int64, count=len(coded.distinct))
            self.derived_columns[key] = distinct_lengths[coded.codes]
        return self.derived_columns[key]

    def present(self, name: str) -> np.ndarray:
        """Whether each record has a value in the column (bool), computed once and kept."""
        key = "present:" + name
        if key not in self.derived_columns:
            coded = self._coded(name)
            self.derived_columns[key] = (coded.distinct != "")[coded.codes]
        return self.derived_columns[key]

    def column(self, name: str) -> np.ndarray:
        """A field's column, or a derived one (see _DERIVED), as an object array of str."""
        if name in self.columns:
            return self.columns[name]
        if name not in self.derived_columns:
            self.derived_columns[name] = self._coded(name).values()
        return self.derived_columns[name]

    def hashes(self, name: str) -> np.ndarray:
        """Python's hash of each value of a column (int64), for blocking."""
        if name not in self.column_hashes:
            coded = self._coded(name)
            distinct_hashes = np.fromiter(map(hash, coded.distinct), dtype=np.int64, count=len(coded.distinct))
            self.column_hashes[name] = distinct_hashes[coded.codes]
        return self.column_hashes[name]

    def take(self, positions: np.ndarray | Sequence[int]) -> Prepared:
        """A new set holding the given rows, in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        return Prepared(
            ids=self.ids[positions],
            columns={name: values[positions] for name, values in self.columns.items()},
            coded={name: _Coded(coded.codes[positions], coded.distinct) for name, coded in self.coded.items()},
        )


def prepare(
    ids: Sequence[int] | np.ndarray,
    columns: Mapping[str, Sequence[str | None]],
    *,
    default_region: str = "IT",
) -> Prepared:
    """Normalise records given as columns (field -> values, aligned with `ids`); absent fields are all missing."""
    id_array = np.asarray(ids, dtype=np.int64)
    count = len(id_array)
    coded: dict[str, _Coded] = {}
    for name in FIELDS:
        values = columns.get(name)
        if values is None:
            coded[name] = _Coded(np.zeros(count, dtype=np.int64), np.array([""], dtype=object))
            continue
        if len(values) != count:
            raise ValueError(f"column {name!r} has {len(values)} values for {count} ids")
        if name != "phone":
            codes, distinct = _factorise(values)
            coded[name] = _apply_distinct(codes, distinct, _FIELD_NORMALISERS[name])
    if columns.get("phone") is not None:
        # A national number means something else in another country: normalise each (number, region) once.
        phone_codes, phones = _factorise(columns["phone"])
        country = coded["country"]
        regions = [value or default_region for value in country.distinct.tolist()]
        pairs, inverse = np.unique(phone_codes * len(regions) + country.codes, return_inverse=True)
        normalised = [
            normalise_phone(phones[pair // len(regions)], regions[pair % len(regions)]) for pair in pairs.tolist()
        ]
        result_codes, results = _factorise(normalised)
        coded["phone"] = _Coded(result_codes[inverse.reshape(-1)], np.array(results, dtype=object))
    return Prepared(
        ids=id_array,
        columns={name: coded[name].values() for name in FIELDS},
        coded=coded,
    )
