"""The identity-resolution engine on hand-made records: normalisers, blocking, comparisons, model and clusters.

The model the scoring tests use is trained (EM, no labels) on a synthetic Italian population made
here, with duplicates carrying typos, nicknames, swapped names, missing values and phones and
streets written in other ways. The hand-made pairs are then scored with it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import string

import numpy as np
import phonenumbers
import pytest

from cuore.identity.matching import (
    BLOCKING_RULES,
    COMPARISONS,
    FIELDS,
    MatchModel,
    candidate_pairs,
    canonical_first_name,
    cluster_pairs,
    compare_records,
    comparison_vectors,
    match_one,
    normalise_date,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_postcode,
    normalise_street,
    normalise_tax_code,
    pairwise_scores,
    prepare,
    record_keys,
    resolve,
    train,
)

# --- a synthetic population to train on ---------------------------------------------------------------

FIRST_NAMES = [
    "giuseppe",
    "maria",
    "giovanni",
    "anna",
    "antonio",
    "francesco",
    "giuseppina",
    "mario",
    "rosa",
    "luigi",
    "angela",
    "angelo",
    "teresa",
    "vincenzo",
    "lucia",
    "pietro",
    "carmela",
    "salvatore",
    "caterina",
    "carlo",
    "francesca",
    "franco",
    "giovanna",
    "domenico",
    "luisa",
    "bruno",
    "paolo",
    "carla",
    "michele",
    "elena",
    "giorgio",
    "rita",
    "sergio",
    "laura",
    "andrea",
    "alessandro",
    "marco",
    "matteo",
    "luca",
    "lorenzo",
    "davide",
    "simone",
    "federico",
    "chiara",
    "sara",
    "giulia",
    "martina",
    "alessia",
    "valentina",
    "elisa",
    "silvia",
    "filippo",
]
NICKNAMES = {"giuseppe": "Beppe", "luigi": "Gigi", "salvatore": "Totò", "alessandro": "Sandro", "filippo": "Pippo"}
SYLLABLES = [
    "ca",
    "ro",
    "lo",
    "ma",
    "ri",
    "ne",
    "to",
    "sa",
    "fi",
    "gu",
    "be",
    "di",
    "no",
    "pe",
    "ta",
    "le",
    "mi",
    "co",
    "ra",
    "si",
    "ve",
    "pa",
    "ga",
    "bo",
    "mo",
    "na",
    "te",
    "li",
    "ci",
    "vi",
    "de",
]
ENDINGS = ["i", "o", "a", "ini", "elli", "etti", "one", "ucci", "ano", "ese"]
TOWNS = [
    ("Roma", "00184", "RM"),
    ("Milano", "20121", "MI"),
    ("Napoli", "80133", "NA"),
    ("Torino", "10121", "TO"),
    ("Bologna", "40121", "BO"),
    ("Firenze", "50122", "FI"),
    ("Bari", "70121", "BA"),
    ("Verona", "37121", "VR"),
    ("Padova", "35121", "PD"),
    ("Lecce", "73100", "LE"),
]
STREETS = [
    "Roma",
    "Garibaldi",
    "Mazzini",
    "Cavour",
    "Dante",
    "Verdi",
    "Marconi",
    "Matteotti",
    "Gramsci",
    "Manzoni",
    "Leopardi",
    "Carducci",
]
STREET_TYPES = {"via": "V.", "viale": "V.le", "piazza": "P.zza", "corso": "C.so"}


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def synthetic_people(count: int, *, duplicate_share: float = 0.25, seed: int = 0):
    """Records (ids, columns) of people, some several times, and each record's person."""
    rng = random.Random(seed)
    people = []
    for _ in range(int(count * (1 - duplicate_share))):
        first = rng.choice(FIRST_NAMES)
        last = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) + rng.choice(ENDINGS)
        town, postcode, province = rng.choice(TOWNS)
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 65))
        people.append(
            {
                "first_name": first.title(),
                "last_name": last.title(),
                "birth_date": born.isoformat(),
                "email": f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(['gmail.com', 'libero.it', 'alice.it'])}",
                "phone": f"3{rng.randint(20, 99)}{rng.randint(1000000, 9999999)}",
                "tax_code": "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
                "street": (rng.choice(list(STREET_TYPES)), rng.choice(STREETS), rng.randint(1, 150)),
                "postal_code": postcode,
                "city": town,
                "province": province,
            }
        )
    rows, person_of = [], []
    for person, values in enumerate(people):
        rows.append(_render(rng, values, duplicate=False))
        person_of.append(person)
    while len(rows) < count:
        person = rng.randrange(len(people))
        rows.append(_render(rng, people[person], duplicate=True))
        person_of.append(person)
    columns = {name: [row.get(name, "") for row in rows] for name in FIELDS}
    return np.arange(len(rows)), columns, np.array(person_of)


def _render(rng: random.Random, person: dict, *, duplicate: bool) -> dict:
    kind, street, number = person["street"]
    row = {key: value for key, value in person.items() if key != "street"}
    row["line1"] = f"{kind} {street} {number}"
    row["country"] = "IT"
    if rng.random() < 0.4:
        row["tax_code"] = ""
    if not duplicate:
        return row
    for name, share in (("email", 0.3), ("phone", 0.3), ("birth_date", 0.15), ("line1", 0.1)):
        if rng.random() < share:
            row[name] = ""
    if rng.random() < 0.2:
        row["first_name"] = _typo(rng, row["first_name"])
    if rng.random() < 0.2:
        row["last_name"] = _typo(rng, row["last_name"])
    if rng.random() < 0.15 and row["first_name"].lower() in NICKNAMES:
        row["first_name"] = NICKNAMES[row["first_name"].lower()]
    if rng.random() < 0.05:
        row["first_name"], row["last_name"] = row["last_name"], row["first_name"]
    if row["line1"] and rng.random() < 0.4:
        row["line1"] = f"{STREET_TYPES[kind]} {street}, {number}"
    if row["email"] and rng.random() < 0.3:
        row["email"] = row["email"].upper()
    if row["phone"]:
        phone = row["phone"]
        row["phone"] = rng.choice([phone, f"+39 {phone[:3]} {phone[3:]}", f"0039{phone}", f"{phone[:3]}-{phone[3:]}"])
    if row["birth_date"] and rng.random() < 0.2:
        year, month, day = row["birth_date"].split("-")
        row["birth_date"] = f"{day}/{month}/{year}"
    return row


@pytest.fixture(scope="module")
def model() -> MatchModel:
    ids, columns, _ = synthetic_people(3_000, seed=1)
    return train(prepare(ids, columns), seed=0, max_pairs=300_000)


def records(*rows: dict) -> object:
    """A Prepared set of hand-written records (fields left out are missing)."""
    return prepare(np.arange(len(rows)), {name: [row.get(name) for row in rows] for name in FIELDS})


def score(model: MatchModel, a: dict, b: dict) -> tuple[float, dict[str, str], np.ndarray]:
    probability, vectors = match_one(model, records(a), records(b))
    levels = {item["comparison"]: item["level"] for item in model.explain(vectors[0])}
    return float(probability[0]), levels, vectors[0]


GIUSEPPE = {
    "first_name": "Giuseppe",
    "last_name": "Rossi",
    "birth_date": "1980-05-02",
    "email": "giuseppe.rossi@example.it",
    "phone": "+39 333 123 4567",
    "line1": "Via Roma 1",
    "postal_code": "00184",
    "city": "Roma",
    "province": "RM",
    "country": "IT",
}


# --- normalisers --------------------------------------------------------------------------------------


def test_normalise_name_strips_accents_punctuation_and_case():
    assert normalise_name("  D'Angelo-Rossi ") == "dangelo rossi"
    assert normalise_name("Nicolò  ÆRØ") == "nicolo aero"
    assert normalise_name("MARIA   grazia") == "maria grazia"


@pytest.mark.parametrize("value", [None, "", "   ", "n/a", "N.A.", "123", "---", "Unknown"])
def test_normalise_name_turns_missing_and_garbage_into_empty(value):
    assert normalise_name(value) == ""


@pytest.mark.parametrize(
    ("nickname", "name"),
    [
        ("Beppe", "giuseppe"),
        ("Peppe", "giuseppe"),
        ("Pino", "giuseppe"),
        ("Gigi", "luigi"),
        ("Totò", "salvatore"),
        ("Sandro", "alessandro"),
        ("Bob", "robert"),
        ("Robbie", "robert"),
        ("Bill", "william"),
        ("Will", "william"),
        ("Giuseppe", "giuseppe"),
        ("Gian Beppe", "gian giuseppe"),
        (None, ""),
    ],
)
def test_canonical_first_name_reads_nicknames(nickname, name):
    assert canonical_first_name(nickname) == name


def test_normalise_email():
    assert normalise_email("  Giuseppe.Rossi@Example.IT ") == "giuseppe.rossi@example.it"
    assert normalise_email("mailto:a.b@c.it") == "a.b@c.it"
    for garbage in (None, "", "not an email", "a@b", "@example.it", "a@@b.it", "a b@c.it", "NoEmail@shop.it"):
        assert normalise_email(garbage) == ""


@pytest.mark.parametrize(
    "written",
    ["+39 333 123 4567", "0039 3331234567", "333-1234567", "333 123 4567", "+39 (333) 123.45.67", "3331234567"],
)
def test_normalise_phone_writes_italian_mobiles_in_e164(written):
    assert normalise_phone(written) == "+393331234567"


def test_normalise_phone_other_shapes_and_regions():
    assert normalise_phone("06 1234 5678") == "+390612345678"
    assert normalise_phone("+44 20 7946 0018") == "+442079460018"
    assert normalise_phone("(415) 555-0132", "US") == "+14155550132"
    for garbage in (None, "", "abc", "12", "+39", "0000000000", "333 333 3333", "+1 111 111 1111"):
        assert normalise_phone(garbage) == ""


def test_normalise_phone_shortcut_gives_the_library_result():
    rng = random.Random(3)
    numbers = [f"3{rng.randint(10, 99)}{rng.randint(100000, 9999999)}" for _ in range(300)]
    numbers += [f"0{rng.randint(1, 99)}{rng.randint(1000, 99999999)}" for _ in range(300)]
    for number in numbers:
        for written in (number, "+39" + number, "0039" + number):
            parsed = phonenumbers.parse(written, "IT")
            expected = (
                phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                if phonenumbers.is_possible_number(parsed) and len(set(str(parsed.national_number))) >= 3
                else ""
            )
            assert normalise_phone(written) == expected, written


def test_normalise_date():
    for written in ("1980-05-02", "02/05/1980", "2/5/1980", "02.05.1980", "19800502", "1980/05/02", "1980-05-02T10:00"):
        assert normalise_date(written) == "1980-05-02", written
    assert normalise_date(dt.date(1980, 5, 2)) == "1980-05-02"
    assert normalise_date(dt.datetime(1980, 5, 2, 10, 30)) == "1980-05-02"
    for garbage in (None, "", "1980-02-30", "31/31/1980", "abc", "1700-01-01", "80-05-02"):
        assert normalise_date(garbage) == ""


def test_normalise_street_writes_out_abbreviations():
    assert normalise_street("V. Roma 1") == normalise_street("via roma 1") == "via roma 1"
    assert normalise_street("VIA ROMA, N. 1") == "via roma 1"
    assert normalise_street("P.zza Garibaldi 3") == "piazza garibaldi 3"
    assert normalise_street("C.so Vittorio Emanuele II, 10/A") == "corso vittorio emanuele ii 10a"
    assert normalise_street("V.le Mazzini n° 5") == "viale mazzini 5"
    assert normalise_street("12 Stanley St") == "12 stanley street"
    assert normalise_street("St Kilda Rd 5") == "saint kilda road 5"
    assert normalise_street(None) == normalise_street("") == normalise_street(" , ") == ""


def test_normalise_postcode_and_tax_code():
    assert normalise_postcode(" 00184 ") == "00184"
    assert normalise_postcode("sw1a 1aa") == "SW1A1AA"
    for garbage in (None, "", "ab", "abcde"):
        assert normalise_postcode(garbage) == ""
    assert normalise_tax_code("rss mra 80a01 h501u") == "RSSMRA80A01H501U"
    for garbage in (None, "", "12", "0000000", "-----"):
        assert normalise_tax_code(garbage) == ""


def test_prepare_treats_absent_columns_as_missing_and_checks_lengths():
    prepared = prepare([7, 9], {"first_name": ["Beppe", None], "email": ["A@B.IT", "bad"]})

    assert prepared.ids.dtype == np.int64
    assert len(prepared) == 2
    assert prepared.row(0)["first_name"] == "beppe"
    assert prepared.row(0)["email"] == "a@b.it"
    assert prepared.row(1) == dict.fromkeys(FIELDS, "")
    with pytest.raises(ValueError, match="phone"):
        prepare([1, 2], {"phone": ["1"]})


# --- blocking -----------------------------------------------------------------------------------------


def test_record_keys_are_namespaced_and_empty_when_missing():
    prepared = records(GIUSEPPE, {"first_name": "Anna"})

    keys = record_keys(prepared)

    assert len(keys) == len(BLOCKING_RULES)
    by_rule = {rule.name: rule_keys for rule, rule_keys in zip(BLOCKING_RULES, keys, strict=True)}
    assert by_rule["email"][0] == "email:giuseppe.rossi@example.it"
    assert by_rule["phone"][0] == "phone:+393331234567"
    assert by_rule["birth_date_first_initial"][0] == "birth_date_initial:1980-05-02|g"
    assert all(rule_keys[1] == "" for rule_keys in keys)


def test_keys_of_one_record_equal_its_keys_in_the_batch():
    ids, columns, _ = synthetic_people(200, seed=5)
    prepared = prepare(ids, columns)
    batch = record_keys(prepared)

    for position in (0, 17, 150):
        alone = record_keys(prepared.take([position]))
        assert [rule_keys[0] for rule_keys in alone] == [rule_keys[position] for rule_keys in batch]


def test_candidate_pairs_find_swapped_names():
    prepared = records(
        {"first_name": "Mario", "last_name": "Bianchi", "birth_date": "1975-03-04"},
        {"first_name": "Bianchi", "last_name": "Mario", "birth_date": "04/03/1975"},
        {"first_name": "Anna", "last_name": "Verdi", "postal_code": "20121"},
        {"first_name": "Verdi", "last_name": "Anna", "postal_code": "20121"},
        {"first_name": "Luca", "last_name": "Neri", "birth_date": "1990-01-01"},
    )

    left, right = candidate_pairs(prepared)

    assert set(zip(left.tolist(), right.tolist(), strict=True)) == {(0, 1), (2, 3)}


def test_candidate_pairs_skip_blocks_over_the_limit(caplog):
    prepared = records(*[{"first_name": name, "email": "info@shop.it"} for name in ("Anna", "Luca", "Sara", "Ugo")])

    with caplog.at_level(logging.INFO, logger="cuore.identity.matching.blocking"):
        left, _ = candidate_pairs(prepared, max_block=3)

    assert len(left) == 0
    assert "skipped 1 blocks larger than 3" in caplog.text


# --- comparisons and scores ---------------------------------------------------------------------------


def test_typos_still_link(model):
    probability, levels, _ = score(
        model, GIUSEPPE, {**GIUSEPPE, "first_name": "Giusepe", "last_name": "Rosi", "email": None, "phone": None}
    )

    assert levels["first_name"] == "jaro-winkler ≥ 0.92"
    assert levels["last_name"] == "jaro-winkler ≥ 0.92"
    assert probability >= 0.95


def test_swapped_first_and_last_name_link(model):
    probability, levels, _ = score(model, GIUSEPPE, {**GIUSEPPE, "first_name": "Rossi", "last_name": "Giuseppe"})

    assert levels["first_name"] == "swapped with last name"
    assert levels["last_name"] == "swapped with first name"
    assert probability >= 0.95


def test_nickname_is_the_same_name(model):
    probability, levels, _ = score(
        model, {**GIUSEPPE, "email": None}, {**GIUSEPPE, "first_name": "Beppe", "email": None}
    )

    assert levels["first_name"] == "same name or nickname"
    assert probability >= 0.95


def test_phone_formats_and_email_case_are_the_same(model):
    base = {"first_name": "Anna", "last_name": "Neri", "email": "Anna.Neri@Example.IT"}
    for written in ("0039 3331234567", "333-1234567"):
        _, levels, _ = score(
            model,
            {**base, "phone": "+39 333 123 4567"},
            {**base, "phone": written, "email": "anna.neri@example.it"},
        )
        assert levels["phone"] == "exact"
        assert levels["email"] == "exact"


def test_italian_street_abbreviations_are_the_same_street(model):
    _, levels, _ = score(model, {**GIUSEPPE, "line1": "V. Roma 1"}, {**GIUSEPPE, "line1": "via roma 1"})

    assert levels["line1"] == "exact"


def test_missing_values_count_neither_for_nor_against(model):
    full = {**GIUSEPPE, "tax_code": "RSSGPP80E02H501X"}
    _, _, vector_missing = score(model, full, {**GIUSEPPE, "phone": None})
    _, _, vector_different = score(model, full, {**GIUSEPPE, "phone": "+39 347 765 4321"})
    _, _, vector_same = score(model, full, GIUSEPPE)
    phone = [comparison.name for comparison in COMPARISONS].index("phone")
    tax_code = phone + 1

    evidence = model.explain(vector_missing)
    assert evidence[phone] == {"comparison": "phone", "level": "missing", "weight": 0.0, "fields": ["phone"]}
    assert evidence[tax_code]["level"] == "missing"  # on one side only
    assert vector_missing[tax_code] == -1
    weight_missing, weight_different, weight_same = model.weights(
        np.stack([vector_missing, vector_different, vector_same])
    )
    assert weight_missing == pytest.approx(weight_different - model.explain(vector_different)[phone]["weight"])
    assert weight_different < weight_missing < weight_same


def test_explain_sums_to_the_weight(model):
    _, _, vector = score(model, GIUSEPPE, {**GIUSEPPE, "first_name": "Beppe", "phone": None, "city": "Rome"})

    evidence = model.explain(vector)

    assert [item["comparison"] for item in evidence] == [comparison.name for comparison in COMPARISONS]
    assert model.prior_weight() + sum(item["weight"] for item in evidence) == pytest.approx(
        float(model.weights(vector[None, :])[0])
    )


def test_different_people_with_one_name_do_not_link(model):
    probability, _, _ = score(
        model,
        GIUSEPPE,
        {
            "first_name": "Giuseppe",
            "last_name": "Rossi",
            "birth_date": "1952-11-23",
            "email": "beppe.rossi52@libero.it",
            "phone": "+39 347 765 4321",
            "line1": "Via Garibaldi 20",
            "postal_code": "20121",
            "city": "Milano",
            "province": "MI",
        },
    )

    assert probability < 0.5


def test_model_json_round_trip(model):
    data = json.loads(json.dumps(model.to_json()))
    again = MatchModel.from_json(data)
    vectors = np.array([[0] * len(COMPARISONS), [-1] * len(COMPARISONS), [len(c.levels) - 1 for c in COMPARISONS]])

    assert again == model
    np.testing.assert_array_equal(again.weights(vectors), model.weights(vectors))
    data["levels"][0] = ["exact", "different"]
    with pytest.raises(ValueError, match="other comparisons"):
        MatchModel.from_json(data)


def test_model_is_estimated_from_the_data_and_deterministic():
    ids, columns, _ = synthetic_people(800, seed=2)
    prepared = prepare(ids, columns)

    first, second = train(prepared, seed=4, max_pairs=50_000), train(prepared, seed=4, max_pairs=50_000)

    assert first.to_json() == second.to_json()
    for row in first.m + first.u:
        assert all(1e-6 <= value <= 1 - 1e-6 for value in row)
    email = [comparison.name for comparison in COMPARISONS].index("email")
    # The data say an equal email is strong evidence and a different one is evidence against.
    assert first.m[email][0] / first.u[email][0] > 1000
    assert first.m[email][-1] < first.u[email][-1]


def test_match_one_agrees_with_the_batch(model):
    ids, columns, _ = synthetic_people(400, seed=7)
    prepared = prepare(ids, columns)
    resolution, _ = resolve(prepared, model)

    for pair in range(0, len(resolution.left), max(1, len(resolution.left) // 25)):
        i, j = int(resolution.left[pair]), int(resolution.right[pair])
        probability, vectors = match_one(model, prepared.take([i]), prepared.take([j, i]))
        reverse, _ = match_one(model, prepared.take([j]), prepared.take([i]))
        np.testing.assert_array_equal(vectors[0], resolution.vectors[pair])
        assert probability[0] == pytest.approx(resolution.probability[pair])
        assert reverse[0] == pytest.approx(resolution.probability[pair])


def test_compare_records_across_sets_equals_within_one_set():
    ids, columns, _ = synthetic_people(300, seed=8)
    prepared = prepare(ids, columns)
    left, right = candidate_pairs(prepared)

    within = comparison_vectors(prepared, left, right)
    across = compare_records(prepared.take(left), prepared.take(right), np.arange(len(left)), np.arange(len(right)))

    np.testing.assert_array_equal(within, across)


# --- resolution and clusters --------------------------------------------------------------------------


def test_resolve_finds_the_synthetic_duplicates():
    ids, columns, person = synthetic_people(3_000, seed=11)

    resolution, _ = resolve(prepare(ids, columns))

    left, right = cluster_pairs(resolution.cluster)
    truth_left, truth_right = cluster_pairs(person)
    scores = pairwise_scores(
        set(zip(truth_left.tolist(), truth_right.tolist(), strict=True)),
        set(zip(left.tolist(), right.tolist(), strict=True)),
    )
    assert scores["precision"] >= 0.98
    assert scores["recall"] >= 0.97
    assert all(resolution.cluster <= np.arange(len(ids)))
    assert (resolution.cluster[resolution.cluster] == resolution.cluster).all()


def _hand_model(weights: dict[tuple[str, str], float]) -> MatchModel:
    """A model with weight 0 everywhere but the given (comparison, level) weights, and λ = 1/2."""
    m, u = [], []
    for comparison in COMPARISONS:
        count = len(comparison.levels)
        m_row, u_row = [1.0 / count] * count, [1.0 / count] * count
        for level, label in enumerate(comparison.levels):
            if (comparison.name, label) in weights:
                u_row[level] = m_row[level] / 2 ** weights[(comparison.name, label)]
        m.append(m_row)
        u.append(u_row)
    return MatchModel(prior=0.5, m=m, u=u)


def test_one_weak_link_does_not_glue_two_groups():
    model = _hand_model(
        {
            ("email", "exact"): 12,
            ("phone", "exact"): 14,
            ("first_name", "different"): -4,
            ("last_name", "different"): -4,
        }
    )
    prepared = records(
        {"first_name": "Mario", "last_name": "Rossi", "email": "mario@example.it"},
        {"first_name": "Mario", "last_name": "Rossi", "email": "mario@example.it", "phone": "3331234567"},
        {"first_name": "Luca", "last_name": "Bianchi", "email": "luca@example.it", "phone": "3331234567"},
        {"first_name": "Luca", "last_name": "Bianchi", "email": "luca@example.it"},
    )

    resolution, _ = resolve(prepared, model)

    bridge = np.flatnonzero((resolution.left == 1) & (resolution.right == 2))
    assert resolution.linked[bridge].all()
    assert resolution.dropped[bridge].all()
    assert resolution.cluster.tolist() == [0, 0, 2, 2]


def test_a_group_whose_members_all_agree_stays_whole():
    model = _hand_model({("email", "exact"): 12, ("phone", "exact"): 12})
    prepared = records(
        {"first_name": "Mario", "email": "mario@example.it"},
        {"first_name": "Mario", "email": "mario@example.it", "phone": "3331234567"},
        {"first_name": "Mario", "email": "mario@example.it", "phone": "3331234567"},
        {"first_name": "Mario", "phone": "3331234567"},
        {"first_name": "Anna", "email": "anna@example.it"},
    )

    resolution, _ = resolve(prepared, model)

    assert resolution.cluster.tolist() == [0, 0, 0, 0, 4]
    assert not resolution.dropped.any()


def test_review_band_sits_between_the_thresholds():
    model = _hand_model({("email", "exact"): 1.0})
    prepared = records({"email": "a@b.it"}, {"email": "a@b.it"})

    resolution, _ = resolve(prepared, model, link_threshold=0.9, review_threshold=0.5)

    assert resolution.probability.tolist() == pytest.approx([2 / 3])
    assert resolution.review.tolist() == [True]
    assert resolution.linked.tolist() == [False]
    assert resolution.cluster.tolist() == [0, 1]


def test_pairwise_scores():
    scores = pairwise_scores({(1, 2), (3, 4)}, {(2, 1), (5, 6)})

    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.5, 0.5, 0.5)
    assert pairwise_scores(set(), set())["f1"] == 0.0


def test_records_that_share_no_key_give_no_pairs_and_a_resolution_of_singletons():
    from cuore.identity.matching import candidate_pairs, prepare, resolve

    prepared = prepare(
        np.arange(3),
        {"first_name": ["Anna", "Marco", "Sara"], "last_name": ["Bianchi", "Russo", "Romano"], "city": ["", "", ""]},
    )
    left, right = candidate_pairs(prepared)
    assert left.size == right.size == 0
    resolution, _model = resolve(prepared)
    assert resolution.cluster.tolist() == [0, 1, 2]
