"""Mapping a file's headers to an import's fields, and checking a mapping."""

from __future__ import annotations

import pytest

from cuore.imports.reading import KINDS, guess_mapping, validate_mapping
from cuore.imports.reading.mapping import is_known_header
from cuore.imports.reading.values import fold


def test_the_kinds_and_their_required_fields():
    required = {kind: [f.name for f in fields if f.required] for kind, fields in KINDS.items()}

    assert required == {
        "contacts": ["source_id"],
        "accounts": ["name"],
        "products": ["sku", "name"],
        "orders": ["source_id", "customer_source_id", "order_date", "sku", "quantity", "unit_price"],
        "interactions": ["source_id", "customer_source_id", "occurred_at"],
    }


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_spelling_names_two_fields_of_a_kind(kind):
    owners: dict[str, set[str]] = {}
    for target in KINDS[kind]:
        for spelling in (target.name, *target.synonyms):
            owners.setdefault(fold(spelling).replace(" ", ""), set()).add(target.name)

    assert {spelling: names for spelling, names in owners.items() if len(names) > 1} == {}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_field_maps_from_its_own_name(kind):
    names = [target.name for target in KINDS[kind]]

    assert guess_mapping(kind, names) == {name: name for name in names}


def test_italian_contact_headers():
    headers = [
        "Codice Cliente",
        "NOME",
        "Cognome",
        "E-Mail",
        "Telefono",
        "Cellulare",
        "Data di nascita",
        "C.F.",
        "Indirizzo",
        "C.A.P.",
        "Città",
        "Prov.",
        "Nazione",
        "Ragione sociale",
        "Qualifica",
        "Lingua",
        "Consenso e-mail",
        "Note",
        "Colonna misteriosa",
    ]

    assert guess_mapping("contacts", headers) == {
        "Codice Cliente": "source_id",
        "NOME": "first_name",
        "Cognome": "last_name",
        "E-Mail": "email",
        "Telefono": "phone",
        "Cellulare": "mobile",
        "Data di nascita": "birth_date",
        "C.F.": "tax_code",
        "Indirizzo": "line1",
        "C.A.P.": "postal_code",
        "Città": "city",
        "Prov.": "province",
        "Nazione": "country",
        "Ragione sociale": "company",
        "Qualifica": "job_title",
        "Lingua": "language",
        "Consenso e-mail": "email_consent",
        "Note": "notes",
        "Colonna misteriosa": None,
    }


def test_english_account_headers_with_underscores_and_case():
    headers = ["Account_ID", "Company Name", "VAT number", "P.IVA", "WEBSITE", "zip_code", "State"]

    assert guess_mapping("accounts", headers) == {
        "Account_ID": "source_id",
        "Company Name": "name",
        "VAT number": "vat_number",
        "P.IVA": None,  # the VAT number is taken by the column before
        "WEBSITE": "website",
        "zip_code": "postal_code",
        "State": "province",
    }


def test_order_headers():
    headers = [
        "N. ordine",
        "Cod. cliente",
        "Data ordine",
        "Stato",
        "Cod. articolo",
        "Descrizione",
        "Q.tà",
        "Prezzo",
        "Sconto",
    ]

    assert guess_mapping("orders", headers) == {
        "N. ordine": "source_id",
        "Cod. cliente": "customer_source_id",
        "Data ordine": "order_date",
        "Stato": "status",
        "Cod. articolo": "sku",
        "Descrizione": "product_name",
        "Q.tà": "quantity",
        "Prezzo": "unit_price",
        "Sconto": "discount",
    }


def test_close_spellings_match_and_far_ones_do_not():
    mapping = guess_mapping("contacts", ["indirizzo emal", "Cognomi", "Telefono 1", "Emial"])

    assert mapping == {"indirizzo emal": "email", "Cognomi": None, "Telefono 1": None, "Emial": None}


def test_an_exact_match_beats_a_close_one_for_the_same_field():
    assert guess_mapping("contacts", ["indirizzo emal", "email"]) == {"indirizzo emal": None, "email": "email"}


def test_is_known_header():
    assert is_known_header("Partita IVA")
    assert is_known_header("Quantità")
    assert not is_known_header("Dear customer")


def test_validate_mapping():
    mapping = {"Nome": "first_name", "Name": "first_name", "Scarpe": "shoe_size", "Altro": None}

    assert validate_mapping("contacts", mapping) == [
        "column “Scarpe” is mapped to “shoe_size”, which is not a field of this import",
        "First name is mapped to more than one column: “Nome”, “Name”",
        "ID is required: choose the column that holds it",
    ]


def test_validate_a_good_mapping_and_an_unknown_kind():
    assert validate_mapping("products", {"Codice": "sku", "Nome": "name", "Prezzo": "price"}) == []
    assert validate_mapping("invoices", {}) == ["unknown import kind: invoices"]
