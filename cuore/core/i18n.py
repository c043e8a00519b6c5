"""Compile the translation catalogues (.po → .mo) with Babel, so no GNU gettext is needed to run Cuore.

``python -m cuore.core.i18n`` compiles every ``cuore/*/locale/*/LC_MESSAGES/django.po`` whose ``.mo``
is missing or older; ``make`` runs it, and the test suite before it starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).resolve().parent.parent


def catalogues(root: Path = PACKAGE) -> list[Path]:
    return sorted(root.glob("*/locale/*/LC_MESSAGES/django.po"))


def compile_catalogues(root: Path = PACKAGE, *, force: bool = False) -> list[Path]:
    """Write the ``.mo`` beside each ``.po`` that changed; return the ones written."""
    written = []
    for po_path in catalogues(root):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file, abort_invalid=True)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalogue, use_fuzzy=False)
        written.append(mo_path)
    return written


if __name__ == "__main__":
    done = compile_catalogues(force="--force" in sys.argv)
    print(f"compiled {len(done)} translation catalogue(s)")
