"""A large file is read row by row in flat memory; the rate is printed for the docs.

Memory is measured with tracemalloc while iterating ``RowReader`` (the reader is built before, so its sample
of the first rows is not counted; the rows are dropped as they come, as an import does once a batch is written).
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from cuore.imports.reading import RowReader, guess_mapping, open_table

ROWS = 50_000  # enough to show flat memory; the throughput at scale is in bench/imports
MB = 1024 * 1024


def contacts_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write(
            "Codice cliente;Nome;Cognome;Email;Cellulare;Data di nascita;Indirizzo;CAP;Città;Nazione;"
            "Fase;Consenso email;Creato il\n"
        )
        for i in range(rows):
            out.write(
                f"C{i:07d};Mario{i % 97};Rossi{i % 89};mario.rossi{i}@example.it;347 {i % 10_000_000:07d};"
                f"{1 + i % 28:02d}/{1 + i % 12:02d}/19{50 + i % 50};Via Roma {i % 300};{47100 + i % 99};Forlì;"
                f"Italia;cliente;sì;03/03/2024 10:{i % 60:02d}\n"
            )
    return path


def orders_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write("Numero ordine;Codice cliente;Data ordine;Stato;Codice articolo;Quantità;Prezzo unitario;Sconto\n")
        for i in range(rows):
            out.write(
                f"O{i // 3};C{i % 5000};2024-03-{1 + i % 28:02d} 10:30;evaso;SKU{i % 700};{1 + i % 4};12,50;0,50\n"
            )
    return path


def read_in_flat_memory(path: Path, kind: str) -> tuple[int, float, int]:
    """Return (rows read, rows per second, tracemalloc peak in bytes while iterating)."""
    table = open_table(path)
    mapping = guess_mapping(kind, table.headers)
    assert None not in mapping.values()

    started = time.perf_counter()
    read = sum(1 for row in RowReader(table, kind, mapping) if row.ok)
    rate = read / (time.perf_counter() - started)

    reader = RowReader(table, kind, mapping)
    tracemalloc.start()
    try:
        for _row in reader:
            pass
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return read, rate, peak


@pytest.mark.slow
def test_orders_stream_in_flat_memory(tmp_path, capsys):
    path = orders_csv(tmp_path / "orders.csv", ROWS)

    read, rate, peak = read_in_flat_memory(path, "orders")

    with capsys.disabled():
        print(
            f"\n[imports.reading] orders: {read:,} rows ({path.stat().st_size / MB:.1f} MB) at {rate:,.0f} rows/s, "
            f"peak {peak / MB:.2f} MB while iterating"
        )
    assert read == ROWS
    assert peak < 1 * MB  # nothing kept from row to row


@pytest.mark.slow
def test_contacts_stream_with_their_duplicate_check_in_a_few_megabytes(tmp_path, capsys):
    path = contacts_csv(tmp_path / "contacts.csv", ROWS)

    read, rate, peak = read_in_flat_memory(path, "contacts")

    with capsys.disabled():
        print(
            f"\n[imports.reading] contacts: {read:,} rows ({path.stat().st_size / MB:.1f} MB) at {rate:,.0f} rows/s, "
            f"peak {peak / MB:.2f} MB while iterating ({peak / ROWS:.0f} bytes an id for the duplicate check)"
        )
    assert read == ROWS
    # The duplicate-id check keeps about 12 bytes an id (24 while merging); the rows themselves nothing.
    assert peak < 2 * MB
