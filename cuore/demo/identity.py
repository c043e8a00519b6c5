"""The demo's second source: a web shop export that names some demo customers again, imported and resolved.

So that ``make demo`` shows identity resolution at work: the contacts already in the CRM become
records of the source "cuore"; then a CSV from "eshop" — some of the same people written the shop's
way (nicknames, a typo, the phone in another format, the email in capitals), a few look-alikes (the
same name in the same town, nothing else in common: for the review queue) and some new customers — is
imported with ``cuore.imports`` like any file, and resolved.
"""

from __future__ import annotations

import csv
import random
import tempfile
from pathlib import Path
from typing import Any

from cuore.contacts.models import Contact
from cuore.identity.matching.normalise import NICKNAMES
from cuore.imports.services import import_create, import_run

# Not "webshop": the demo's customers already carry external ids of a system by that name.
SOURCE = "eshop"
HEADER = ["Codice cliente", "Nome", "Cognome", "Email", "Telefono", "Indirizzo", "CAP", "Città"]
SAME_PEOPLE = 120
LOOK_ALIKES = 12
NEWCOMERS = 40
NEW_NAMES = [
    ("Ottavia", "Fontana"), ("Jacopo", "Caruso"), ("Noemi", "Mariani"), ("Tommaso", "Rinaldi"), ("Bianca", "Ferri"),
    ("Pietro", "Galli"), ("Aurora", "Testa"), ("Leonardo", "Fabbri"), ("Ginevra", "Monti"), ("Edoardo", "Villa"),
]  # fmt: skip
NEW_CITIES = [
    ("Via Emilia 10", "40100", "Bologna"),
    ("Corso Vercelli 2", "20145", "Milano"),
    ("Via Toledo 5", "80134", "Napoli"),
]


def _nickname_of(first: str, rng: random.Random) -> str:
    options = [nick for nick, full in NICKNAMES.items() if full == first.lower()]
    return rng.choice(options).capitalize() if options else first


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _phone_written_otherwise(e164: str) -> str:
    if e164.startswith("+39"):
        digits = e164[3:]
        return f"0039 {digits[:3]} {digits[3:]}"
    return e164


def _rows(seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    contacts = list(
        Contact.objects.order_by("pk").prefetch_related("points", "addresses")[: SAME_PEOPLE * 4 + LOOK_ALIKES * 4]
    )
    rng.shuffle(contacts)
    rows: list[list[str]] = []
    number = 1000
    for contact in contacts[:SAME_PEOPLE]:
        number += 1
        email = next((p.value for p in contact.points.all() if p.kind == "email"), "")
        phone = next((p.value_normalized for p in contact.points.all() if p.kind in ("mobile", "phone")), "")
        address = next(iter(contact.addresses.all()), None)
        first = _nickname_of(contact.first_name, rng) if rng.random() < 0.4 else contact.first_name
        last = _typo(contact.last_name, rng) if rng.random() < 0.25 else contact.last_name
        rows.append(
            [
                f"WS-{number}",
                first,
                last,
                email.upper() if email and rng.random() < 0.5 else (email if rng.random() < 0.7 else ""),
                _phone_written_otherwise(phone) if phone and rng.random() < 0.7 else "",
                address.line1 if address else "",
                address.postal_code if address else "",
                address.city if address else "",
            ]
        )
    for contact in contacts[SAME_PEOPLE : SAME_PEOPLE + LOOK_ALIKES]:
        # The same name in the same town, but another email and phone: perhaps the same person.
        number += 1
        address = next(iter(contact.addresses.all()), None)
        rows.append(
            [
                f"WS-{number}",
                contact.first_name,
                contact.last_name,
                f"{contact.first_name}.{contact.last_name}.{number}@example.net".lower().replace(" ", ""),
                f"+39 347 {rng.randrange(1_000_000, 9_999_999)}",
                "",
                address.postal_code if address else "",
                address.city if address else "",
            ]
        )
    for i in range(NEWCOMERS):
        number += 1
        first, last = NEW_NAMES[i % len(NEW_NAMES)]
        street, postcode, city = NEW_CITIES[i % len(NEW_CITIES)]
        rows.append(
            [
                f"WS-{number}",
                first,
                f"{last}" if i < len(NEW_NAMES) else f"{last}-{i}",
                f"{first}.{last}{i}@example.org".lower(),
                f"+39 333 {1_000_000 + i * 7919}",
                street,
                postcode,
                city,
            ]
        )
    rng.shuffle(rows)
    return rows


def demo_identity(*, actor: Any, seed: int = 42) -> dict[str, Any]:
    """Import the web shop's export of the demo customers and resolve it; return the import's figures."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "webshop-clienti.csv"
        # Windows-1252, as an Italian shop's Excel export would be (a name it cannot hold becomes "?").
        with path.open("w", newline="", encoding="cp1252", errors="replace") as out:
            writer = csv.writer(out, delimiter=";")
            writer.writerow(HEADER)
            writer.writerows(_rows(seed))
        job = import_create(actor=actor, kind="contacts", source=SOURCE, file=path, filename=path.name)
        done = import_run(import_id=job.pk)
    return {
        "rows": done.rows_read,
        "failed": done.rows_failed,
        **{key: value for key, value in (done.figures.get("identity") or {}).items() if isinstance(value, int)},
    }
