"""Pools of names, streets and job titles drawn once from Faker, seeded, then combined row by row.

Calling Faker for every row would cost minutes at a million customers; a few thousand draws per locale
give enough variety once first names, last names, numbers and domains are combined at random.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from faker import Faker

from cuore.core.normalize import text_key
from cuore.demo.reference import UK_CITIES, US_CITIES

LOCALES = {"IT": "it_IT", "GB": "en_GB", "US": "en_US"}


@dataclass
class Name:
    """A name with its search key and the form it takes in an email address."""

    text: str
    key: str
    mail: str


@dataclass
class CountryPool:
    female: list[Name]
    male: list[Name]
    last: list[Name]
    streets: list[str]
    postcodes: dict[str, list[str]] = field(default_factory=dict)


def _unique(draw, count: int) -> list[str]:
    # dict.fromkeys keeps the first-seen order, so the pool is the same on every run with the same seed.
    return list(dict.fromkeys(draw() for _ in range(count)))


def _names(values: list[str]) -> list[Name]:
    names = []
    for value in values:
        key = text_key(value)
        mail = key.replace(" ", "")
        if mail:
            names.append(Name(value, key, mail))
    return names


@functools.lru_cache(maxsize=4)
def build_pools(seed: int) -> tuple[dict[str, CountryPool], list[str]]:
    """Return one pool per country (IT, GB, US) and a pool of English job titles (read-only, cached)."""
    pools: dict[str, CountryPool] = {}
    titles: list[str] = []
    for offset, (country, locale) in enumerate(LOCALES.items()):
        fake = Faker(locale)
        fake.seed_instance(seed * 7 + offset)
        pool = CountryPool(
            female=_names(_unique(fake.first_name_female, 800)),
            male=_names(_unique(fake.first_name_male, 800)),
            last=_names(_unique(fake.last_name, 3000)),
            streets=_unique(fake.street_name, 1500),
        )
        if country == "GB":
            postcodes = _unique(fake.postcode, 1600)
            step = max(1, len(postcodes) // len(UK_CITIES))
            pool.postcodes = {
                city: postcodes[index * step : (index + 1) * step] for index, (city, *_rest) in enumerate(UK_CITIES)
            }
            titles = _unique(fake.job, 800)
        elif country == "US":
            pool.postcodes = {
                city: _unique(lambda s=state, f=fake: f.zipcode_in_state(s), 40) for city, state, *_ in US_CITIES
            }
        pools[country] = pool
    return pools, titles
