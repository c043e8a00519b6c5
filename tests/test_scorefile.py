"""``cuore analytics score-file`` and ``clv-fit``: the analyst's commands, without a CRM database."""

from __future__ import annotations

import csv
import importlib.resources
import io
import json

import pytest

from cuore.cli import main


def _dataset(name: str) -> str:
    return (importlib.resources.files("lifetimes") / "datasets" / name).read_text()


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CUORE_DATA_DIR", str(tmp_path / "var"))


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory):
    """CDNOW_sample as a semicolon CSV: customer (the cohort id, zero-padded), day YYYYMMDD, CDs, dollars."""
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    lines = ["customer;day;cds;spent"]
    for line in _dataset("CDNOW_sample.txt").splitlines():
        if line.strip():
            _master, cohort, day, cds, spent = line.split()
            lines.append(f"{cohort};{day};{cds};{spent}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["analytics", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_score_file_summarises_cdnow_as_published(cdnow_csv, capsys, tmp_path):
    output = tmp_path / "scores.csv"
    code, _out, err = _run(
        capsys,
        "score-file",
        str(cdnow_csv),
        "--customer=customer",
        "--date=day",
        "--amount=spent",
        "--period-end=1997-09-30",
        "--freq=W",
        f"--output={output}",
    )
    assert code == 0, err
    assert err.strip() == f"2357 customers scored into {output}"
    ours = _rows(output.read_text())
    published = list(csv.DictReader(io.StringIO(_dataset("cdnow_customers_summary.csv"))))
    assert len(ours) == len(published) == 2357
    for mine, theirs in zip(ours, published, strict=True):
        assert int(mine["customer"]) == int(theirs["ID"])
        assert float(mine["frequency"]) == float(theirs["frequency"])
        assert round(float(mine["recency"]), 2) == float(theirs["recency"])
        assert round(float(mine["T"]), 2) == float(theirs["T"])
    first = ours[0]
    # customer 1: orders on 1997-01-01, 01-18 and 08-02 (1997-12-12 is after the period end)
    assert (first["orders"], first["recency_days"], first["monetary_total"]) == ("3", "59", "74.02")
    assert first["rfm_segment"] in {"champions", "loyal"}
    assert 0 < float(first["p_alive"]) <= 1 and float(first["clv"]) > 0


def test_clv_fit_on_the_score_file_output_reproduces_the_published_parameters(cdnow_csv, capsys, tmp_path):
    output = tmp_path / "scores.csv"
    argv = ["score-file", str(cdnow_csv), "--customer=customer", "--date=day", "--amount=spent"]
    assert _run(capsys, *argv, "--period-end=1997-09-30", "--freq=W", f"--output={output}")[0] == 0

    code, out, _err = _run(capsys, "clv-fit", str(output), "--model=bgnbd")
    bgnbd = json.loads(out)
    assert code == 0
    assert {name: round(value, 3) for name, value in bgnbd["params"].items()} == {
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
    }
    assert round(bgnbd["log_likelihood"], 1) == -9582.4 and bgnbd["customers"] == 2357

    summary = tmp_path / "summary.csv"
    rows = _rows(output.read_text())
    with summary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frequency", "recency", "T", "monetary_value"])
        writer.writerows([row["frequency"], row["recency"], row["T"], row["monetary_value"]] for row in rows)
    gamma_gamma = json.loads(_run(capsys, "clv-fit", str(summary), "--model=gammagamma")[1])
    assert {name: round(value, 2) for name, value in gamma_gamma["params"].items()} == {
        "p": 6.25,
        "q": 3.74,
        "gamma": 15.44,
    }
    assert gamma_gamma["customers"] == 946
    pareto = json.loads(_run(capsys, "clv-fit", str(summary), "--model=paretonbd")[1])
    assert {name: round(value, 3) for name, value in pareto["params"].items()} == {
        "r": 0.553,
        "alpha": 10.578,
        "s": 0.606,
        "beta": 11.669,
    }
    assert round(pareto["log_likelihood"], 1) == -9595.0


def test_score_file_by_day_with_categories(tmp_path, capsys):
    path = tmp_path / "tx.csv"
    path.write_text(
        "cliente,data,importo,categoria\n"
        "anna,2025-01-10,10.00,shoes\n"
        "anna,2025-01-10,5.00,socks\n"  # the same day: one purchase of 15.00
        "anna,2025-03-01,30.00,shoes\n"
        "bruno,2025-02-01,8.50,socks\n"
        "carla,2025-03-31,100.00,\n"
    )
    code, out, err = _run(
        capsys, "score-file", str(path), "--customer=cliente", "--date=data", "--amount=importo", "--category=categoria"
    )
    assert code == 0, err
    rows = {row["customer"]: row for row in _rows(out)}
    assert list(rows) == ["anna", "bruno", "carla"]
    anna = rows["anna"]
    # period end = the last date (2025-03-31); first purchase 2025-01-10
    assert (anna["frequency"], anna["recency"], anna["T"], anna["monetary_value"]) == ("1", "50", "80", "30")
    assert (anna["orders"], anna["recency_days"], anna["monetary_total"], anna["preferred_category"]) == (
        "3",
        "30",
        "45.00",
        "shoes",
    )
    assert rows["bruno"]["preferred_category"] == "socks"
    assert rows["carla"]["preferred_category"] == ""
    assert (rows["carla"]["recency_days"], rows["carla"]["T"]) == ("0", "0")
    # too few customers to fit the lifetime-value models: those columns stay empty, never invented
    assert {rows[name]["clv"] for name in rows} == {""}
    # ABC by spend: carla brings 100 of 153.50
    assert rows["carla"]["abc_class"] == "A"


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        ("who,when,amount\na,2025-01-01,1\n", ["--customer=customer"], "no column 'customer' (for --customer)"),
        (
            "customer,when,amount\na,2025-01-01,1\nb,yesterday,2\n",
            [],
            "line 3: column 'when': 'yesterday' is not a date",
        ),
        (
            "customer,when,amount\na,2025-01-01,1\nb,2025-01-02,-2.50\n",
            [],
            "line 3: column 'amount': '-2.50' is negative",
        ),
        ("customer,when,amount\na,2025-01-01,1\nb,2025-01-02,12 euro\n", [], "'12 euro' is not an amount"),
        ("customer,when,amount\na,2025-01-01,1\n,2025-01-02,3\n", [], "line 3: column 'customer' is empty"),
        ("customer,when,amount\n", [], "no transactions"),
    ],
)
def test_score_file_bad_input_gets_the_line_and_the_reason(tmp_path, capsys, content, argv, message):
    path = tmp_path / "tx.csv"
    path.write_text(content)
    defaults = {"--customer": "customer", "--date": "when", "--amount": "amount"}
    for option in argv:
        defaults[option.split("=")[0]] = option.split("=")[1]
    code, out, err = _run(capsys, "score-file", str(path), *(f"{k}={v}" for k, v in defaults.items()))
    assert code == 2
    assert out == ""
    assert err.startswith("cuore: error: ") and message in err and err.count("\n") == 1


def test_score_file_not_a_csv(tmp_path, capsys):
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 40)
    code, _out, err = _run(capsys, "score-file", str(path), "--customer=c", "--date=d", "--amount=a")
    assert code == 2 and err.startswith("cuore: error: ") and err.count("\n") == 1
    code, _out, err = _run(
        capsys, "score-file", str(tmp_path / "missing.csv"), "--customer=c", "--date=d", "--amount=a"
    )
    assert code == 2 and "no such file" in err


@pytest.mark.parametrize(
    ("content", "model", "message"),
    [
        ("frequency,recency\n1,2\n", "bgnbd", "no column 'T'"),
        ("frequency,recency,T\n1,2,3\n", "gammagamma", "no column 'monetary_value'"),
        ("frequency,recency,T\n1,2,3\n2,five,6\n", "bgnbd", "line 3: column 'recency': 'five' is not a number"),
        ("frequency,recency,T\n1,4,3\n", "paretonbd", "line 2: recency 4.0 is after T 3.0"),
        ("frequency,recency,T\n-1,0,3\n", "bgnbd", "line 2: column 'frequency': '-1' must be 0 or more"),
        ("frequency,recency,T\n1.5,1,3\n", "bgnbd", "line 2: frequency 1.5 is not a whole number"),
        ("frequency,recency,T\n", "bgnbd", "no customers"),
    ],
)
def test_clv_fit_bad_input(tmp_path, capsys, content, model, message):
    path = tmp_path / "summary.csv"
    path.write_text(content)
    code, out, err = _run(capsys, "clv-fit", str(path), f"--model={model}")
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1
