"""Normalised forms of the values people search and match on: emails, phones, names, VAT numbers."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

DEFAULT_REGION = "IT"
_SPACES = re.compile(r"\s+")
_NOT_KEY = re.compile(r"[^a-z0-9 ]+")


def email_normalize(value: str) -> str:
    """Return the lower-cased, trimmed address; raise ``ValueError`` if it is not an email address."""
    cleaned = value.strip().lower()
    try:
        validate_email(cleaned)
    except ValidationError:
        raise ValueError("is not a valid email address") from None
    return cleaned


def phone_normalize(value: str, region: str = DEFAULT_REGION) -> str:
    """Return the number in E.164 (``+393471234567``); raise ``ValueError`` if it is not a phone number."""
    cleaned = value.strip()
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_search_key(value: str, region: str = DEFAULT_REGION) -> str | None:
    """Return the E.164 prefix to search for what a user typed, or ``None`` if it has too few digits."""
    digits = re.sub(r"[^\d+]", "", value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if len(digits.lstrip("+")) < 4:
        return None
    if digits.startswith("+"):
        return digits
    try:
        return phone_normalize(digits, region)
    except ValueError:
        code = phonenumbers.country_code_for_region(region)
        return f"+{code}{digits}"


def text_key(value: str) -> str:
    """Return ``value`` lower-cased, without accents or punctuation, spaces collapsed: ``D'Amico`` → ``damico``."""
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    ascii_only = ascii_only.replace("'", "").replace("’", "")
    return _SPACES.sub(" ", _NOT_KEY.sub(" ", ascii_only)).strip()


_VAT = re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,13}$")


def _italian_vat_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(digits[:10]):
        number = int(char)
        if index % 2 == 1:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return (10 - total % 10) % 10 == int(digits[10])


def vat_normalize(value: str) -> str:
    """Return the VAT number upper-cased with a country prefix, checking Italian check digits."""
    cleaned = re.sub(r"[\s.\-/]", "", value).upper()
    if re.fullmatch(r"\d{11}", cleaned):
        cleaned = "IT" + cleaned
    if cleaned.startswith("IT"):
        digits = cleaned[2:]
        if not re.fullmatch(r"\d{11}", digits):
            raise ValueError("an Italian VAT number has 11 digits")
        if not _italian_vat_valid(digits):
            raise ValueError("the check digit of this Italian VAT number is wrong")
        return cleaned
    if not _VAT.fullmatch(cleaned):
        raise ValueError("is not a VAT number (country code followed by 2 to 13 characters)")
    return cleaned


def italian_vat_check_digit(first_ten: str) -> str:
    """Return the eleventh digit that makes ``first_ten`` a valid Italian VAT number."""
    for digit in "0123456789":
        if _italian_vat_valid(first_ten + digit):
            return digit
    raise AssertionError("unreachable: one digit always fits")
