"""Synthetic people with a known truth, for benchmarking identity resolution: ``generate(n_records, seed=…)``.

The model (every rate is a constant below):

- **People.** 70 % Italian (Faker it_IT), 6 % each en_GB, en_US, de_DE, fr_FR and es_ES. Names come from pools
  (the locale's most common names first, then Faker's lists) drawn with Zipf-like frequencies, so common names
  are common and many people share one (Giuseppe Rossi); Italian addresses are real (CAP, comune, province)
  triples, a fifth of them in the big cities. Each person has a birth date (1940–2006), a home address and a
  second one (for a move), a mobile and a second phone (an Italian landline half the time), two e-mail
  addresses, and, if Italian, a codice fiscale with the real layout and check character. E-mail addresses,
  phones and tax codes are unique across people, as real ones are — except that 8 % of people live in
  another's household: same surname and address (and landline, if any), their own first name, birth date,
  mobile and e-mail.
- **Records.** Each person has 1–4 records (45 / 30 / 15 / 10 %), each from a source with its own coverage and
  habits: a web shop (address, e-mail, phone), a till (name and phone), an old CRM export (everything,
  often in capitals with accents written as apostrophes: "NICCOLO'"), event sign-ups (name, e-mail, phone),
  a newsletter (the e-mail, perhaps a first name).
- **Corruptions**, drawn per record: typos (insert / delete / substitute / transpose) in names, streets,
  cities, postcodes, e-mails, phones and tax codes; first and last names swapped; nicknames
  (Giuseppe → Beppe / Pino, Robert → Bob); phones in national and international formats (+39 333 …,
  0039 333…, 333-…); e-mails in other case, or the person's other address; street types abbreviated
  (via → V., piazza → P.zza, Street → St); the second address after a move; birth dates in three formats,
  sometimes with day and month swapped or one part wrong; missing values at per-source, per-field rates.

Everything is drawn from ``numpy.random.default_rng(seed)`` and ``random.Random(seed)`` (Faker is seeded too),
so a seed gives the same records. Faker is called only to fill the pools; the records are assembled with
numpy fancy indexing, and per-record Python runs only over the few records each corruption touches.
"""

from __future__ import annotations

import functools
import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cuore.identity.matching import FIELDS


@dataclass(frozen=True)
class Locale:
    """Where people come from: Faker's locale, the ISO country, the share of people and their e-mail domains."""

    faker: str
    country: str
    share: float
    domains: tuple[tuple[str, float], ...]


LOCALES = (
    Locale(
        "it_IT",
        "IT",
        0.70,
        (
            ("gmail.com", 0.35),
            ("libero.it", 0.20),
            ("hotmail.it", 0.10),
            ("yahoo.it", 0.08),
            ("alice.it", 0.06),
            ("virgilio.it", 0.06),
            ("tiscali.it", 0.05),
            ("outlook.it", 0.05),
            ("icloud.com", 0.05),
        ),
    ),
    Locale(
        "en_GB",
        "GB",
        0.06,
        (
            ("gmail.com", 0.40),
            ("hotmail.co.uk", 0.20),
            ("btinternet.com", 0.10),
            ("yahoo.co.uk", 0.10),
            ("outlook.com", 0.10),
            ("icloud.com", 0.10),
        ),
    ),
    Locale(
        "en_US",
        "US",
        0.06,
        (
            ("gmail.com", 0.45),
            ("yahoo.com", 0.20),
            ("hotmail.com", 0.10),
            ("aol.com", 0.05),
            ("outlook.com", 0.10),
            ("icloud.com", 0.10),
        ),
    ),
    Locale(
        "de_DE",
        "DE",
        0.06,
        (("gmail.com", 0.30), ("gmx.de", 0.25), ("web.de", 0.25), ("t-online.de", 0.10), ("outlook.de", 0.10)),
    ),
    Locale(
        "fr_FR",
        "FR",
        0.06,
        (
            ("gmail.com", 0.35),
            ("orange.fr", 0.20),
            ("free.fr", 0.15),
            ("laposte.net", 0.10),
            ("sfr.fr", 0.10),
            ("hotmail.fr", 0.10),
        ),
    ),
    Locale(
        "es_ES",
        "ES",
        0.06,
        (("gmail.com", 0.45), ("hotmail.es", 0.20), ("yahoo.es", 0.10), ("outlook.es", 0.10), ("telefonica.net", 0.15)),
    ),
)
IT = 0  # LOCALES[IT] is Italy

# The most common first names of each locale (male, female), ahead of Faker's in the pools: they are
# the common names in life, and the ones with nicknames.
COMMON_FIRST_NAMES = {
    "it_IT": (
        "Giuseppe Giovanni Antonio Mario Luigi Francesco Angelo Vincenzo Pietro Salvatore Carlo Franco Domenico "
        "Bruno Paolo Michele Giorgio Alessandro Roberto Stefano Massimo Andrea Marco Luca Federico Riccardo "
        "Filippo Lorenzo Matteo Tommaso Daniele Emanuele Gabriele Raffaele Nicola Leonardo Girolamo",
        "Maria Anna Giuseppina Rosa Angela Giovanna Teresa Lucia Carmela Caterina Francesca Antonella Alessandra "
        "Federica Elisabetta Margherita Valentina Patrizia Cristina Beatrice Giulia Chiara Sara Martina Paola Laura",
    ),
    "en_GB": (
        "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew "
        "Anthony Andrew Edward Benjamin Samuel Nicholas Alexander Jonathan Stephen Peter Patrick Timothy",
        "Mary Elizabeth Patricia Jennifer Margaret Susan Jessica Sarah Katherine Rebecca Deborah Victoria "
        "Samantha Pamela Barbara Abigail",
    ),
    "en_US": (
        "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew "
        "Anthony Andrew Edward Benjamin Samuel Nicholas Alexander Jonathan Steven Timothy Kenneth Gregory",
        "Mary Elizabeth Patricia Jennifer Margaret Susan Jessica Sarah Katherine Rebecca Deborah Victoria "
        "Samantha Pamela Barbara Abigail Kimberly Judith",
    ),
    "de_DE": (
        "Johannes Wolfgang Friedrich Alexander Thomas Christian Matthias Maximilian Andreas Michael Peter Klaus",
        "Katharina Elisabeth Margarete Susanne Ursula Monika Sabine",
    ),
    "fr_FR": (
        "Frédéric Christophe Nicolas Alexandre Jean Pierre Philippe Dominique",
        "Catherine Isabelle Stéphanie Élisabeth Marie Nathalie",
    ),
    "es_ES": (
        "José Francisco Manuel Ignacio Antonio Enrique Jesús Guillermo Juan",
        "Dolores Concepción Mercedes Rosario Guadalupe Consuelo Josefa Francisca María Carmen",
    ),
}
COMMON_LAST_NAMES_IT = [
    *("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno"),
    *("Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri"),
    *("Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "D'Amico", "De Angelis"),
]

NICKNAMES: dict[str, tuple[str, ...]] = {
    # Italian
    "Giuseppe": ("Beppe", "Peppe", "Pino"),
    "Giovanni": ("Gianni", "Nanni"),
    "Francesco": ("Franco", "Checco"),
    "Salvatore": ("Totò", "Turi"),
    "Antonio": ("Tonino",),
    "Luigi": ("Gigi",),
    "Alessandro": ("Sandro", "Alex"),
    "Vincenzo": ("Enzo",),
    "Domenico": ("Mimmo",),
    "Massimo": ("Max",),
    "Federico": ("Fede",),
    "Riccardo": ("Ricky",),
    "Emanuele": ("Lele",),
    "Gabriele": ("Lele",),
    "Raffaele": ("Lello",),
    "Filippo": ("Pippo",),
    "Girolamo": ("Momo",),
    "Leonardo": ("Leo",),
    "Lorenzo": ("Renzo",),
    "Nicola": ("Nico",),
    "Tommaso": ("Tommy", "Maso"),
    "Matteo": ("Teo",),
    "Daniele": ("Dani",),
    "Elisabetta": ("Betta",),
    "Francesca": ("Franca", "Checca"),
    "Giuseppina": ("Pina", "Peppina"),
    "Antonella": ("Nella",),
    "Alessandra": ("Sandra",),
    "Federica": ("Fede",),
    "Margherita": ("Rita",),
    "Caterina": ("Rina",),
    "Valentina": ("Vale",),
    "Patrizia": ("Patty",),
    "Giovanna": ("Gianna",),
    "Beatrice": ("Bea",),
    # English
    "Robert": ("Bob", "Rob", "Bobby", "Robbie"),
    "William": ("Bill", "Will", "Billy"),
    "Richard": ("Rick", "Rich", "Dick"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Jack", "Johnny"),
    "Michael": ("Mike", "Mick"),
    "Thomas": ("Tom", "Tommy"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Joseph": ("Joe", "Joey"),
    "Charles": ("Charlie", "Chuck"),
    "Edward": ("Ed", "Ted", "Eddie"),
    "Anthony": ("Tony",),
    "Matthew": ("Matt",),
    "Andrew": ("Andy", "Drew"),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Nicholas": ("Nick",),
    "Alexander": ("Alex",),
    "Jonathan": ("Jon",),
    "Stephen": ("Steve",),
    "Steven": ("Steve",),
    "Peter": ("Pete",),
    "Patrick": ("Pat",),
    "Timothy": ("Tim",),
    "Kenneth": ("Ken",),
    "Gregory": ("Greg",),
    "David": ("Dave",),
    "Elizabeth": ("Liz", "Beth", "Betty"),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Katherine": ("Kate", "Katie", "Kathy"),
    "Jennifer": ("Jen", "Jenny"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Susan": ("Sue", "Susie"),
    "Deborah": ("Debbie", "Deb"),
    "Rebecca": ("Becky",),
    "Victoria": ("Vicky",),
    "Jessica": ("Jess",),
    "Samantha": ("Sam",),
    "Abigail": ("Abby",),
    "Kimberly": ("Kim",),
    "Pamela": ("Pam",),
    "Barbara": ("Barb",),
    "Judith": ("Judy",),
    # German
    "Johannes": ("Hans", "Jens"),
    "Wolfgang": ("Wolf",),
    "Friedrich": ("Fritz",),
    "Christian": ("Chris",),
    "Matthias": ("Matze",),
    "Maximilian": ("Max",),
    "Andreas": ("Andi",),
    "Katharina": ("Kathi",),
    "Elisabeth": ("Lisa", "Liesel"),
    "Margarete": ("Grete",),
    "Susanne": ("Susi",),
    # French
    "Frédéric": ("Fred",),
    "Christophe": ("Chris",),
    "Nicolas": ("Nico",),
    "Alexandre": ("Alex",),
    "Dominique": ("Dom",),
    "Catherine": ("Cathy",),
    "Isabelle": ("Isa",),
    "Stéphanie": ("Steph",),
    # Spanish
    "José": ("Pepe",),
    "Francisco": ("Paco", "Curro"),
    "Manuel": ("Manolo",),
    "Ignacio": ("Nacho",),
    "Enrique": ("Quique",),
    "Jesús": ("Chucho",),
    "Guillermo": ("Memo",),
    "Dolores": ("Lola",),
    "Concepción": ("Concha",),
    "Mercedes": ("Merche",),
    "Rosario": ("Charo",),
    "Guadalupe": ("Lupe",),
    "Consuelo": ("Chelo",),
    "Josefa": ("Pepa",),
    "Francisca": ("Paca",),
}

# Italy's big cities: (name, province, first CAP, last CAP, share of Italians).
BIG_CITIES_IT = (
    ("Roma", "RM", 118, 199, 0.07),
    ("Milano", "MI", 20121, 20162, 0.03),
    ("Napoli", "NA", 80121, 80147, 0.02),
    ("Torino", "TO", 10121, 10156, 0.02),
    ("Palermo", "PA", 90121, 90151, 0.01),
    ("Genova", "GE", 16121, 16167, 0.01),
    ("Bologna", "BO", 40121, 40141, 0.008),
    ("Firenze", "FI", 50121, 50145, 0.008),
    ("Bari", "BA", 70121, 70132, 0.007),
    ("Catania", "CT", 95121, 95131, 0.007),
    ("Venezia", "VE", 30121, 30176, 0.005),
    ("Verona", "VR", 37121, 37142, 0.005),
)
COMMON_STREETS_IT = (
    "Via Roma",
    "Via Giuseppe Garibaldi",
    "Via Giuseppe Mazzini",
    "Via Cavour",
    "Via Dante Alighieri",
    "Corso Vittorio Emanuele II",
    "Via XX Settembre",
    "Via Guglielmo Marconi",
    "Corso Italia",
    "Piazza della Repubblica",
    "Via Giuseppe Verdi",
    "Via Giacomo Matteotti",
    "Viale Europa",
    "Via della Libertà",
    "Via San Francesco",
)
STREET_TYPES_IT = (
    ("Via", 0.60),
    ("Viale", 0.10),
    ("Piazza", 0.08),
    ("Corso", 0.07),
    ("Largo", 0.04),
    ("Vicolo", 0.04),
    ("Piazzale", 0.03),
    ("Strada", 0.02),
    ("Contrada", 0.02),
)
ABBREVIATIONS = {
    "it_IT": (
        (r"^Via\b", "V."),
        (r"^Viale\b", "V.le"),
        (r"^Piazza\b", "P.zza"),
        (r"^Piazzale\b", "P.le"),
        (r"^Corso\b", "C.so"),
        (r"^Largo\b", "L.go"),
        (r"^Vicolo\b", "Vic."),
        (r"^Strada\b", "Str."),
    ),
    "en_GB": (
        (r"\bStreet\b", "St"),
        (r"\bRoad\b", "Rd"),
        (r"\bAvenue\b", "Ave"),
        (r"\bLane\b", "Ln"),
        (r"\bDrive\b", "Dr"),
        (r"\bCourt\b", "Ct"),
        (r"\bPlace\b", "Pl"),
        (r"\bSquare\b", "Sq"),
        (r"\bCrescent\b", "Cres"),
        (r"\bTerrace\b", "Terr"),
        (r"\bGardens\b", "Gdns"),
        (r"\bMount\b", "Mt"),
    ),
    "de_DE": ((r"straße\b", "str."), (r"Straße\b", "Str."), (r"platz\b", "pl."), (r"Platz\b", "Pl.")),
    "fr_FR": ((r"\bavenue\b", "av."), (r"\bboulevard\b", "bd"), (r"\brue\b", "r."), (r"\bchemin\b", "ch.")),
    "es_ES": (
        (r"^Calle\b", "C/"),
        (r"^Avenida\b", "Avda."),
        (r"^Plaza\b", "Pza."),
        (r"^Paseo\b", "Pº"),
        (r"^Carretera\b", "Ctra."),
    ),
}
ABBREVIATIONS["en_US"] = (*ABBREVIATIONS["en_GB"], (r"\bBoulevard\b", "Blvd"), (r"\bSuite\b", "Ste"))
ADDRESS_LINE2 = {
    "it_IT": ("Scala {L}", "Interno {n}", "Piano {n}", "Scala {L}, Int. {n}"),
    "en_GB": ("Flat {n}", "Apartment {n}"),
    "en_US": ("Apt {n}", "Suite {n}", "Unit {n}"),
    "de_DE": ("{n}. OG", "Hinterhaus"),
    "fr_FR": ("Bâtiment {L}", "Appartement {n}", "Escalier {n}"),
    "es_ES": ("Piso {n}º", "Puerta {n}", "{n}º {L}"),
}

# Phones: (country calling code, trunk prefix written before national numbers, mobile prefixes and their
# digit counts after the prefix, a formatter per style).
IT_MOBILE_PREFIXES = (320, 324, 327, 328, 329, 330, 331, 333, 334, 335, 336, 338, 339, 340, 342, 345, 346, 347)
IT_MOBILE_PREFIXES += (348, 349, 350, 351, 360, 366, 368, 380, 388, 389, 391, 392, 393)
IT_AREA_CODES = ("02", "06", "011", "081", "055", "051", "010", "041", "070", "091", "095", "080", "049", "045")
US_AREA_CODES = (212, 312, 415, 617, 305, 713, 206, 303, 404, 602, 214, 718, 646, 202, 503)
DE_MOBILE_PREFIXES = (("151", 8), ("160", 7), ("170", 7), ("171", 7), ("172", 7), ("175", 7), ("176", 8))


def _fmt_it(n: str, style: int) -> str:
    head = n[:2] if n.startswith(("02", "06")) else n[:3]
    tail = n[len(head) :]
    return (
        f"+39 {head} {tail}",
        f"0039 {n}",
        f"{head}-{tail}",
        n,
        f"+39{n}",
        f"{head} {tail[:3]} {tail[3:]}",
        f"(+39) {head}.{tail[:3]}.{tail[3:]}",
    )[style % 7]


def _fmt_gb(n: str, style: int) -> str:
    return (f"+44 {n[:4]} {n[4:]}", f"0{n[:4]} {n[4:]}", f"0044 {n}", f"+44 (0){n[:4]} {n[4:]}", f"0{n}")[style % 5]


def _fmt_us(n: str, style: int) -> str:
    a, b, c = n[:3], n[3:6], n[6:]
    return (f"+1 {a}-{b}-{c}", f"({a}) {b}-{c}", f"001 {a} {b} {c}", f"{a}.{b}.{c}", f"1-{a}-{b}-{c}")[style % 5]


def _fmt_de(n: str, style: int) -> str:
    return (f"+49 {n[:3]} {n[3:]}", f"0{n[:3]} {n[3:]}", f"0049 {n}", f"0{n[:3]}/{n[3:]}")[style % 4]


def _fmt_fr(n: str, style: int) -> str:
    pairs = " ".join(n[i : i + 2] for i in range(1, 9, 2))
    return (f"+33 {n[0]} {pairs}", f"0{n[0]} {pairs}", f"0033 {n}", f"0{n[0]}.{pairs.replace(' ', '.')}")[style % 4]


def _fmt_es(n: str, style: int) -> str:
    return (f"+34 {n[:3]} {n[3:6]} {n[6:]}", f"{n[:3]} {n[3:6]} {n[6:]}", f"0034 {n}", n)[style % 4]


# In LOCALES order. The first style of each is international: foreign numbers written the national way
# parse only with the record's country, as in life.
PHONE_FORMATS: tuple[Callable[[str, int], str], ...] = (_fmt_it, _fmt_gb, _fmt_us, _fmt_de, _fmt_fr, _fmt_es)
PHONE_STYLES = (7, 5, 5, 4, 4, 4)

SOURCES = ("web shop", "till", "old CRM", "event sign-up", "newsletter")
SOURCE_SHARE = (0.35, 0.20, 0.15, 0.15, 0.15)
OLD_CRM = 2
RECORDS_PER_PERSON_SHARE = (0.45, 0.30, 0.15, 0.10)  # 1, 2, 3, 4 records
HOUSEHOLD_SHARE = 0.08
# Per source (SOURCES order): the chance that a record has the field.
PRESENCE = {
    "first_name": (0.99, 0.90, 1.00, 0.98, 0.55),
    "last_name": (0.99, 0.90, 1.00, 0.97, 0.40),
    "birth_date": (0.45, 0.30, 0.90, 0.25, 0.05),
    "email": (1.00, 0.45, 0.55, 0.95, 1.00),
    "phone": (0.85, 0.70, 0.80, 0.60, 0.05),
    "tax_code": (0.30, 0.25, 0.85, 0.05, 0.00),  # Italians only
    "address": (0.97, 0.20, 0.92, 0.30, 0.03),
    "country": (0.80, 0.10, 0.60, 0.40, 0.20),
}
# Of a record with an address: the chance of each part.
ADDRESS_PARTS = {"line1": 0.98, "postal_code": 0.93, "city": 0.98, "province": 0.75, "line2": 0.70}
RATES = {
    "name typo": 0.05,  # per name
    "swapped names": 0.03,
    "nickname": 0.15,  # of first names that have one (old CRM: a third of it)
    "old CRM capitals": 0.70,
    "old CRM accents as apostrophes": 0.50,
    "accents dropped": 0.15,
    "lower case": 0.08,
    "other email": 0.10,
    "email case": 0.15,
    "email typo": 0.015,
    "other phone": 0.10,
    "phone typo": 0.015,
    "moved": 0.12,  # of people with ≥ 2 records; then each later record has the new address at 70 %
    "street abbreviated": 0.30,
    "street typo": 0.05,
    "city typo": 0.03,
    "postcode typo": 0.02,
    "date day/month swapped": 0.03,
    "date part wrong": 0.02,
    "tax code typo": 0.03,
}
DATE_FORMAT_SHARE = (0.5, 0.4, 0.1)  # yyyy-mm-dd, dd/mm/yyyy, yyyymmdd (the old CRM: always dd/mm/yyyy)
FIRST_BIRTH, LAST_BIRTH = np.datetime64("1940-01-01"), np.datetime64("2006-12-31")
POOL_DRAWS = 3000  # Faker calls per locale and kind

LETTERS = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = UPPER + DIGITS


# --- pools ---------------------------------------------------------------------------------------------


@dataclass
class Pool:
    """Values of one kind for every locale, one array; locale L owns ``values[start[L]:start[L] + weights[L].size]``."""

    values: np.ndarray
    start: list[int]
    weights: list[np.ndarray]

    def draw(self, rng: np.random.Generator, locale: np.ndarray) -> np.ndarray:
        """One pool index per person, from the person's locale, at the pool's frequencies."""
        out = np.empty(locale.size, dtype=np.int64)
        for index, (start, weights) in enumerate(zip(self.start, self.weights, strict=True)):
            where = np.flatnonzero(locale == index)
            out[where] = start + rng.choice(weights.size, size=where.size, p=weights)
        return out


def _zipf(size: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1) ** exponent
    return weights / weights.sum()


def _unique(values) -> list:
    """Distinct values in order of first appearance (Faker's frequent values come first)."""
    return list(dict.fromkeys(values))


def _pool(per_locale: list[list], weights: list[np.ndarray]) -> Pool:
    start = np.concatenate([[0], np.cumsum([len(values) for values in per_locale])[:-1]]).tolist()
    values = np.empty(sum(len(values) for values in per_locale), dtype=object)
    values[:] = [value for values in per_locale for value in values]
    return Pool(values, start, weights)


@dataclass
class Pools:
    """Everything drawn from Faker, once."""

    first_male: Pool
    first_female: Pool
    last: Pool
    street: Pool
    place: Pool  # (postcode, city, province) triples


@functools.lru_cache(maxsize=2)  # the same seed draws the same pools; they are only read
def _pools(seed: int) -> Pools:
    from faker import Faker

    first_male, first_female, last, street, place, place_weights = [], [], [], [], [], []
    for locale in LOCALES:
        fake = Faker(locale.faker)
        fake.seed_instance(seed)
        common_male, common_female = (names.split() for names in COMMON_FIRST_NAMES[locale.faker])
        first_male.append(_unique(common_male + [fake.first_name_male() for _ in range(POOL_DRAWS)]))
        first_female.append(_unique(common_female + [fake.first_name_female() for _ in range(POOL_DRAWS)]))
        common_last = COMMON_LAST_NAMES_IT if locale.faker == "it_IT" else []
        last.append(_unique(common_last + [fake.last_name() for _ in range(POOL_DRAWS)]))
        if locale.faker == "it_IT":
            # Faker's Italian street types are uniform ("Rotonda", "Incrocio"…); real ones are mostly "Via".
            kinds, shares = zip(*STREET_TYPES_IT, strict=True)
            kind_rng = random.Random(seed)
            names = _unique(fake.street_name().split(" ", 1)[1] for _ in range(POOL_DRAWS))
            street.append(
                _unique(list(COMMON_STREETS_IT) + [f"{kind_rng.choices(kinds, shares)[0]} {name}" for name in names])
            )
            triples = []
            for _ in range(POOL_DRAWS):
                cap, rest = fake.postcode_city_province().split(", ", 1)
                city, province = rest.rsplit(" (", 1)
                triples.append((cap, city, province.rstrip(")")))
            small = _unique(triple for triple in triples if triple[1] not in {big[0] for big in BIG_CITIES_IT})
            big = [
                (f"{cap:05d}", name, province, share / (last_cap - first_cap + 1))
                for name, province, first_cap, last_cap, share in BIG_CITIES_IT
                for cap in range(first_cap, last_cap + 1)
            ]
            big_share = sum(city[4] for city in BIG_CITIES_IT)
            place.append([triple[:3] for triple in big] + small)
            weights = np.concatenate([[triple[3] for triple in big], (1 - big_share) * _zipf(len(small), 0.5)])
            place_weights.append(weights / weights.sum())
        else:
            street.append(_unique(fake.street_name() for _ in range(POOL_DRAWS)))
            triples = [(fake.postcode(), fake.city(), fake.administrative_unit()) for _ in range(POOL_DRAWS)]
            place.append(_unique(triples))
            place_weights.append(_zipf(len(place[-1]), 0.5))
    return Pools(
        first_male=_pool(first_male, [_zipf(len(values), 0.6) for values in first_male]),
        first_female=_pool(first_female, [_zipf(len(values), 0.6) for values in first_female]),
        last=_pool(last, [_zipf(len(values), 0.5) for values in last]),
        street=_pool(street, [_zipf(len(values), 0.3) for values in street]),
        place=_pool(place, place_weights),
    )


# --- text helpers ----------------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _email_part(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _ascii(text).lower())


def _accents_as_apostrophes(text: str) -> str:
    """Old systems' Italian: a final accented vowel becomes vowel + apostrophe ("Niccolò" → "Niccolo'")."""
    words = []
    for word in text.split(" "):
        plain = _ascii(word)
        words.append(plain + "'" if word and plain and word[-1] != plain[-1] else plain)
    return " ".join(words)


def _typo(text: str, r: random.Random, alphabet: str = LETTERS) -> str:
    """One keyboard slip: a character inserted, deleted, substituted, or two neighbours transposed."""
    if len(text) < 2:
        return text
    i = r.randrange(len(text))
    op = r.randrange(4)
    new = r.choice(alphabet)
    if text[i].isupper():
        new = new.upper()
    if op == 0:
        return text[:i] + new + text[i:]
    if op == 1:
        return text[:i] + text[i + 1 :]
    if op == 2:
        return text[:i] + (new if new != text[i] else r.choice(alphabet)) + text[i + 1 :]
    i = min(i, len(text) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _digit_typo(text: str, r: random.Random) -> str:
    positions = [i for i, char in enumerate(text) if char.isdigit()]
    if not positions:
        return text
    i = r.choice(positions)
    return text[:i] + r.choice(DIGITS.replace(text[i], "")) + text[i + 1 :]


def _email_case(email: str, r: random.Random) -> str:
    local, _, domain = email.partition("@")
    style = r.randrange(3)
    if style == 0:
        return email.upper()
    if style == 1:
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain
    return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()


# --- codice fiscale ------------------------------------------------------------------------------------------

CF_MONTHS = "ABCDEHLMPRST"
CF_ODD_VALUES = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
# Odd positions: a digit counts as the letter in its place (0 as A, 1 as B…); even ones: 0–9 and A–Z as 0–25.
CF_ODD = {**dict(zip(DIGITS, CF_ODD_VALUES[:10], strict=True)), **dict(zip(UPPER, CF_ODD_VALUES, strict=True))}
CF_EVEN = {**{d: int(d) for d in DIGITS}, **{c: i for i, c in enumerate(UPPER)}}


def _cf_name(name: str, *, given: bool) -> str:
    letters = [c for c in _ascii(name).upper() if c.isalpha()]
    consonants = [c for c in letters if c not in "AEIOU"]
    vowels = [c for c in letters if c in "AEIOU"]
    if given and len(consonants) >= 4:
        consonants = [consonants[0], consonants[2], consonants[3]]
    return "".join(consonants + vowels + ["X", "X", "X"])[:3]


def codice_fiscale(last: str, first: str, year: int, month: int, day: int, female: bool, town: str) -> str:
    """The Italian tax code's layout: surname, name, birth date and sex, birth town, check character."""
    body = (
        _cf_name(last, given=False)
        + _cf_name(first, given=True)
        + f"{year % 100:02d}{CF_MONTHS[month - 1]}{day + 40 * female:02d}{town}"
    )
    total = sum(CF_ODD[c] if i % 2 == 0 else CF_EVEN[c] for i, c in enumerate(body))
    return body + chr(ord("A") + total % 26)


# --- people ----------------------------------------------------------------------------------------------------


def _dedupe(values: list[str], alter: Callable[[str, int], str]) -> list[str]:
    """Make the values distinct, changing each repeat with ``alter(value, attempt)`` until it is new."""
    seen: set[str] = set()
    out = []
    for value in values:
        attempt = 0
        candidate = value
        while candidate in seen:
            attempt += 1
            candidate = alter(value, attempt)
        seen.add(candidate)
        out.append(candidate)
    return out


def _digits(rng: np.random.Generator, count: int, width: int) -> list[str]:
    return [f"{number:0{width}d}" for number in rng.integers(0, 10**width, size=count).tolist()]


def _mobiles(rng: np.random.Generator, locale: np.ndarray) -> np.ndarray:
    """A mobile number per person: the national significant number (no trunk 0, no country code)."""
    out = np.empty(locale.size, dtype=object)
    for index in range(len(LOCALES)):
        where = np.flatnonzero(locale == index)
        k = where.size
        if index == 0:
            prefix = rng.choice(IT_MOBILE_PREFIXES, size=k).tolist()
            numbers = [f"{p}{d}" for p, d in zip(prefix, _digits(rng, k, 7), strict=True)]
        elif index in (1,):
            numbers = [
                f"7{d}{rest}" for d, rest in zip(rng.integers(4, 10, k).tolist(), _digits(rng, k, 8), strict=True)
            ]
        elif index == 2:
            area = rng.choice(US_AREA_CODES, size=k).tolist()
            exchange = rng.integers(200, 1000, size=k)
            exchange = np.where((exchange % 100 == 11) | (exchange == 555), exchange + 1, exchange).tolist()
            numbers = [f"{a}{e}{d}" for a, e, d in zip(area, exchange, _digits(rng, k, 4), strict=True)]
        elif index == 3:
            choice = rng.integers(0, len(DE_MOBILE_PREFIXES), size=k).tolist()
            long_tail, short_tail = _digits(rng, k, 8), _digits(rng, k, 7)
            numbers = [
                DE_MOBILE_PREFIXES[c][0] + (long_tail[i] if DE_MOBILE_PREFIXES[c][1] == 8 else short_tail[i])
                for i, c in enumerate(choice)
            ]
        elif index == 4:
            numbers = [f"{d}{rest}" for d, rest in zip(rng.integers(6, 8, k).tolist(), _digits(rng, k, 8), strict=True)]
        else:
            numbers = [f"6{rest}" for rest in _digits(rng, k, 8)]
        out[where] = numbers
    return out


def _landlines_it(rng: np.random.Generator, count: int) -> list[str]:
    area = rng.choice(IT_AREA_CODES, size=count).tolist()
    long_tail, short_tail = _digits(rng, count, 8), _digits(rng, count, 7)
    return [a + (long_tail[i] if len(a) == 2 else short_tail[i]) for i, a in enumerate(area)]


EMAIL_PATTERNS = (
    ("{f}.{l}", 0.30),
    ("{f}{l}", 0.15),
    ("{i}{l}", 0.12),
    ("{f}.{l}{yy}", 0.10),
    ("{f}_{l}", 0.05),
    ("{l}.{f}", 0.08),
    ("{f}{yy}", 0.05),
    ("{f}.{l}{nn}", 0.10),
    ("{l}{i}", 0.05),
)


def _emails(rng: np.random.Generator, first: list[str], last: list[str], year: np.ndarray, locale: np.ndarray):
    patterns, shares = zip(*EMAIL_PATTERNS, strict=True)
    pattern = rng.choice(len(patterns), size=len(first), p=shares).tolist()
    numbers = rng.integers(1, 100, size=len(first)).tolist()
    domain = np.empty(len(first), dtype=object)
    for index, place in enumerate(LOCALES):
        where = np.flatnonzero(locale == index)
        names, weights = zip(*place.domains, strict=True)
        domain[where] = np.asarray(names, dtype=object)[rng.choice(len(names), size=where.size, p=weights)]
    years = (year % 100).tolist()
    out = []
    for given, family, p, y, n, d in zip(first, last, pattern, years, numbers, domain.tolist(), strict=True):
        local = patterns[p].format(f=given, l=family, i=given[:1], yy=f"{y:02d}", nn=n)
        out.append(f"{local}@{d}")
    return out


@dataclass
class People:
    """The true values of every person (one row each)."""

    locale: np.ndarray
    female: np.ndarray
    first: np.ndarray  # pool indices
    last: np.ndarray
    birth: np.ndarray  # datetime64[D]
    street: np.ndarray  # [home, after a move]: pool indices, shape (2, n)
    number: np.ndarray
    place: np.ndarray
    line2: np.ndarray  # object, "" for none
    phone: np.ndarray  # [mobile, second], national significant numbers, shape (2, n)
    email: np.ndarray  # [primary, other], shape (2, n)
    tax_code: np.ndarray  # object, "" for non-Italians


def _people(count: int, pools: Pools, rng: np.random.Generator, r: random.Random) -> People:
    locale = rng.choice(len(LOCALES), size=count, p=[place.share for place in LOCALES])
    female = rng.random(count) < 0.5
    # Households: a person living with an "anchor" (who is in no one else's household) shares
    # their locale, surname, home and landline.
    joins = rng.random(count) < HOUSEHOLD_SHARE
    members = np.flatnonzero(joins)
    anchors = rng.choice(np.flatnonzero(~joins), size=members.size)
    locale[members] = locale[anchors]

    first = np.where(female, pools.first_female.draw(rng, locale), pools.first_male.draw(rng, locale))
    last = pools.last.draw(rng, locale)
    birth_days = rng.integers(0, int((LAST_BIRTH - FIRST_BIRTH).astype(int)) + 1, size=count)
    street = np.stack([pools.street.draw(rng, locale), pools.street.draw(rng, locale)])
    number = np.minimum(1 + rng.exponential(25, size=(2, count)).astype(np.int64), 300)
    place = np.stack([pools.place.draw(rng, locale), pools.place.draw(rng, locale)])
    line2 = np.full(count, "", dtype=object)
    with_line2 = np.flatnonzero(rng.random(count) < 0.15)
    for i in with_line2.tolist():
        pattern = r.choice(ADDRESS_LINE2[LOCALES[locale[i]].faker])
        line2[i] = pattern.format(n=r.randint(1, 20), L=r.choice("ABCD"))

    mobile = _mobiles(rng, locale)
    second = _mobiles(rng, locale)
    italians = np.flatnonzero(locale == IT)
    landline = italians[rng.random(italians.size) < 0.5]
    second[landline] = _landlines_it(rng, landline.size)
    # Phone numbers are personal: redraw the last digit of a repeat until it is new.
    phones = _dedupe(
        np.concatenate([mobile, second]).tolist(), lambda value, attempt: value[:-2] + f"{(attempt * 37) % 100:02d}"
    )
    mobile[:], second[:] = phones[:count], phones[count:]

    # The household joins: surname, home address, landline (the second phone).
    last[members] = last[anchors]
    street[0, members] = street[0, anchors]
    number[0, members] = number[0, anchors]
    place[0, members] = place[0, anchors]
    line2[members] = line2[anchors]
    # Only a landline is shared; a mobile stays personal.
    shares_line = np.isin(anchors, landline)
    second[members[shares_line]] = second[anchors[shares_line]]
    # A partner or sibling (within 6 years) or a parent or child (22–38 years apart), inside the birth range.
    last_day = int((LAST_BIRTH - FIRST_BIRTH).astype(int))
    near = rng.random(members.size) < 0.5
    offset = np.where(near, rng.uniform(-6, 6, members.size), rng.uniform(22, 38, members.size))
    offset_days = (offset * 365.25).astype(np.int64) * np.where(near, 1, rng.choice([-1, 1], members.size))
    born = birth_days[anchors] + offset_days
    born = np.where((born < 0) | (born > last_day), birth_days[anchors] - offset_days, born)
    birth_days[members] = np.clip(born, 0, last_day)
    birth = FIRST_BIRTH + birth_days.astype("timedelta64[D]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970

    first_ascii = [_email_part(name) for name in pools.first_male.values.tolist()]
    first_ascii_f = [_email_part(name) for name in pools.first_female.values.tolist()]
    last_ascii = [_email_part(name) for name in pools.last.values.tolist()]
    f_text = [
        first_ascii_f[i] if fem else first_ascii[i] for i, fem in zip(first.tolist(), female.tolist(), strict=True)
    ]
    l_text = [last_ascii[i] for i in last.tolist()]
    emails = _emails(rng, f_text, l_text, year, locale) + _emails(rng, f_text, l_text, year, locale)
    emails = _dedupe(emails, lambda value, attempt: value.replace("@", f"{attempt}@", 1))
    email = np.empty((2, count), dtype=object)
    email[0, :], email[1, :] = emails[:count], emails[count:]

    tax_code = np.full(count, "", dtype=object)
    month = (birth.astype("datetime64[M]").astype(np.int64) % 12 + 1).tolist()
    day = ((birth - birth.astype("datetime64[M]")).astype(np.int64) + 1).tolist()
    towns = [
        f"{'ABCDEFGHILM'[a]}{b:03d}"
        for a, b in zip(rng.integers(0, 11, count), rng.integers(0, 1000, count), strict=True)
    ]
    first_values, female_values = pools.first_male.values, pools.first_female.values
    codes = [
        codice_fiscale(
            pools.last.values[last[i]],
            (female_values if female[i] else first_values)[first[i]],
            int(year[i]),
            month[i],
            day[i],
            bool(female[i]),
            towns[i],
        )
        for i in italians.tolist()
    ]
    # Tax codes are personal too (Italy's omocodia rule changes digits; changing the town is enough here).
    codes = _dedupe(codes, lambda value, attempt: value[:11] + f"Z{(attempt * 7) % 1000:03d}" + value[15])
    tax_code[italians] = codes
    return People(
        locale, female, first, last, birth, street, number, place, line2, np.stack([mobile, second]), email, tax_code
    )


# --- records ---------------------------------------------------------------------------------------------------


def _record_sizes(n_records: int, rng: np.random.Generator) -> np.ndarray:
    mean = float(np.dot(np.arange(1, 5), RECORDS_PER_PERSON_SHARE))
    sizes = rng.choice(np.arange(1, 5), size=int(n_records / mean * 1.1) + 10, p=RECORDS_PER_PERSON_SHARE)
    total = np.cumsum(sizes)
    count = int(np.searchsorted(total, n_records)) + 1
    sizes = sizes[:count]
    sizes[-1] -= int(total[count - 1]) - n_records
    return sizes


def _each(values: np.ndarray, mask: np.ndarray, change: Callable[[str], str]) -> None:
    """Change, in place, the non-empty values where ``mask`` is set."""
    for i in np.flatnonzero(mask).tolist():
        if values[i]:
            values[i] = change(values[i])


def generate(n_records: int, *, seed: int) -> tuple[dict[str, list[str]], np.ndarray]:
    """``n_records`` person records and, per record, the id of the person it belongs to."""
    rng = np.random.default_rng(seed)
    r = random.Random(seed)
    pools = _pools(seed)
    sizes = _record_sizes(n_records, rng)
    people = _people(sizes.size, pools, rng, r)
    person = np.repeat(np.arange(sizes.size), sizes)
    n = person.size
    position = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # 0 for a person's first record
    source = rng.choice(len(SOURCES), size=n, p=SOURCE_SHARE)
    locale = people.locale[person]
    crm = source == OLD_CRM

    def present(field: str) -> np.ndarray:
        return rng.random(n) < np.asarray(PRESENCE[field])[source]

    def chance(rate: float) -> np.ndarray:
        return rng.random(n) < rate

    # Names: nicknames, swaps, typos, then the source's writing habits.
    female = people.female[person]
    first_index = people.first[person]
    first = np.empty(n, dtype=object)
    first[female] = pools.first_female.values[first_index[female]]
    first[~female] = pools.first_male.values[first_index[~female]]
    last = pools.last.values[people.last[person]]
    has_nickname = np.fromiter((name in NICKNAMES for name in first), dtype=bool, count=n)
    nickname_rate = np.where(crm, RATES["nickname"] / 3, RATES["nickname"])
    _each(first, has_nickname & (rng.random(n) < nickname_rate), lambda name: r.choice(NICKNAMES[name]))
    swap = chance(RATES["swapped names"])
    first[swap], last[swap] = last[swap], first[swap].copy()
    _each(first, chance(RATES["name typo"]), lambda name: _typo(name, r))
    _each(last, chance(RATES["name typo"]), lambda name: _typo(name, r))

    # Addresses: the home one, or after a move the second one.
    moved = (rng.random(sizes.size) < RATES["moved"]) & (sizes >= 2)
    which = (moved[person] & (position >= 1) & chance(0.7)).astype(np.int64)
    street = people.street[which, person]
    number = people.number[which, person].tolist()
    place = people.place[which, person]
    places = pools.place.values
    line1 = np.empty(n, dtype=object)
    layout = rng.random(n) < 0.8
    streets = pools.street.values[street].tolist()
    locale_names = [place.faker for place in LOCALES]
    for i, (s, num, loc, first_layout) in enumerate(
        zip(streets, number, locale.tolist(), layout.tolist(), strict=True)
    ):
        kind = locale_names[loc]
        if kind in ("en_GB", "en_US"):
            line1[i] = f"{num} {s}"
        elif kind == "fr_FR":
            line1[i] = f"{num}, {s}" if first_layout else f"{num} {s}"
        elif kind == "es_ES":
            line1[i] = f"{s}, {num}"
        else:
            line1[i] = f"{s} {num}" if first_layout else f"{s}, {num}"
    abbreviations = {kind: [(re.compile(a), b) for a, b in pairs] for kind, pairs in ABBREVIATIONS.items()}

    def abbreviate(i: int) -> None:
        for pattern, short in abbreviations[locale_names[locale[i]]]:
            line1[i] = pattern.sub(short, line1[i])

    for i in np.flatnonzero(chance(RATES["street abbreviated"])).tolist():
        abbreviate(i)
    _each(line1, chance(RATES["street typo"]), lambda text: _typo(text, r))
    postal_code = np.array([places[p][0] for p in place.tolist()], dtype=object)
    city = np.array([places[p][1] for p in place.tolist()], dtype=object)
    province = np.array([places[p][2] for p in place.tolist()], dtype=object)
    line2 = np.where(which == 0, people.line2[person], "").astype(object)
    _each(city, chance(RATES["city typo"]), lambda text: _typo(text, r))
    _each(postal_code, chance(RATES["postcode typo"]), lambda text: _digit_typo(text, r))
    gb = locale == 1
    _each(postal_code, gb & chance(0.3), lambda text: text.replace(" ", ""))

    # Contacts.
    other_email = chance(RATES["other email"]).astype(np.int64)
    email = people.email[other_email, person]
    _each(email, chance(RATES["email case"]), lambda text: _email_case(text, r))
    _each(email, chance(RATES["email typo"]), lambda text: _typo(text, r))
    other_phone = chance(RATES["other phone"]).astype(np.int64)
    national = people.phone[other_phone, person].tolist()
    styles = rng.integers(0, 1000, size=n).tolist()
    # Foreigners mostly write the international form (style 0) for an Italian shop.
    foreign_international = (locale != IT) & chance(0.6)
    phone = np.array(
        [
            PHONE_FORMATS[loc](nsn, 0 if intl else style)
            for loc, nsn, style, intl in zip(
                locale.tolist(), national, styles, foreign_international.tolist(), strict=True
            )
        ],
        dtype=object,
    )
    _each(phone, chance(RATES["phone typo"]), lambda text: _digit_typo(text, r))
    tax_code = people.tax_code[person].copy()
    _each(tax_code, chance(RATES["tax code typo"]), lambda text: _typo(text, r, ALNUM))
    _each(tax_code, chance(0.2), str.lower)

    # Birth dates: parts swapped or wrong, then written in one of three formats.
    birth = people.birth[person]
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    swap_date = chance(RATES["date day/month swapped"]) & (day <= 12) & (day != month)
    month, day = np.where(swap_date, day, month), np.where(swap_date, month, day)
    wrong = chance(RATES["date part wrong"])
    wrong_part = rng.integers(0, 2, size=n)
    new_day = rng.integers(1, 29, size=n)
    day = np.where(wrong & (wrong_part == 0), np.where(new_day == day, new_day % 28 + 1, new_day), day)
    year = np.where(wrong & (wrong_part == 1), year + rng.choice([-1, 1], size=n), year)
    date_format = np.where(crm, 1, rng.choice(3, size=n, p=DATE_FORMAT_SHARE))
    birth_date = np.array(
        [
            (f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}", f"{y}{m:02d}{d:02d}")[f]
            for y, m, d, f in zip(year.tolist(), month.tolist(), day.tolist(), date_format.tolist(), strict=True)
        ],
        dtype=object,
    )
    country = np.asarray([place.country for place in LOCALES], dtype=object)[locale]

    # The source's habits: the old CRM in capitals, accents as apostrophes; others sometimes without accents
    # or all in lower case.
    capitals = crm & chance(RATES["old CRM capitals"])
    apostrophes = crm & chance(RATES["old CRM accents as apostrophes"])
    plain = ~crm & chance(RATES["accents dropped"])
    lower = ~crm & chance(RATES["lower case"])
    for values in (first, last, line1, city):
        _each(values, apostrophes, _accents_as_apostrophes)
        _each(values, plain, _ascii)
        _each(values, capitals, str.upper)
        _each(values, lower, str.lower)

    # Missing values.
    columns = {
        "first_name": first,
        "last_name": last,
        "birth_date": birth_date,
        "email": email,
        "phone": phone,
        "tax_code": tax_code,
        "country": country,
    }
    for field in ("first_name", "last_name", "birth_date", "email", "phone", "tax_code", "country"):
        columns[field] = np.where(present(field), columns[field], "").astype(object)
    address = present("address")
    for field, values in (
        ("line1", line1),
        ("postal_code", postal_code),
        ("city", city),
        ("province", province),
        ("line2", line2),
    ):
        columns[field] = np.where(address & chance(ADDRESS_PARTS[field]), values, "").astype(object)

    order = rng.permutation(n)
    return {field: columns[field][order].tolist() for field in FIELDS}, person[order].astype(np.int64)
