"""The ``cuore`` command end to end, run as a user runs it: the installed script in a subprocess.

Every test gets its own data directory (``CUORE_DATA_DIR``) and an environment cleaned of the test
suite's database settings, so the command builds and uses its own SQLite file there. Migrating takes a
few seconds, so one migrated data directory is made per module and copied for each test that needs one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import ninja
import pytest

CUORE = Path(sys.executable).with_name("cuore")
STRONG_PASSWORD = "Velvet-harbour-2026"
DEMO_USERNAMES = ["admin", "manager", "giulia", "marco", "emma", "sara", "luca", "chiara", "paolo"]
# Tables that are not demo data, or that record when something happened rather than what.
# Besides the framework's tables: the audit log, jobs, and the analytics (scores computed from the
# data at the time of the run, with its times and figures).
NOT_CRM_TABLE_PREFIXES = ("auth_", "django_", "sqlite_", "users_", "core_auditentry", "core_job", "analytics_")


def cuore_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a user would have: none of the test suite's CUORE_* settings, no settings module."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUORE_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update({"CUORE_DATA_DIR": str(data_dir), "CUORE_DEBUG": "1", **extra})
    return env


def run_cuore(
    data_dir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # The working directory is not the checkout: the command must not depend on where it is run.
    return subprocess.run(
        [str(CUORE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or cuore_env(data_dir),
        cwd=data_dir.parent if data_dir.parent.is_dir() else "/",
        timeout=timeout,
    )


def user_create(data_dir: Path, username: str, *options: str) -> subprocess.CompletedProcess[str]:
    """Run ``cuore user create`` with a strong password on standard input."""
    return run_cuore(data_dir, "user", "create", username, *options, "--password-stdin", stdin=f"{STRONG_PASSWORD}\n")


def assert_one_line_error(result: subprocess.CompletedProcess[str], *, exit_code: int, starts_with: str) -> None:
    assert result.returncode == exit_code, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(starts_with), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def query(data_dir: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(data_dir / "cuore.sqlite3") as db:
        return db.execute(sql, params).fetchall()


# Written with the clock of the run (the demo's web shop import and its identity resolution), or a
# random folder name and the seconds it took: compared without them.
VOLATILE_COLUMNS = {"created_at", "updated_at", "received_at", "linked_at", "trained_at", "started_at", "finished_at"}
VOLATILE_COLUMNS |= {"path", "figures"}


def crm_dump(data_dir: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(data_dir / "cuore.sqlite3") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = {}
        for table in sorted(tables):
            if table.startswith(NOT_CRM_TABLE_PREFIXES):
                continue
            columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")') if row[1] not in VOLATILE_COLUMNS]
            selected = ", ".join(f'"{column}"' for column in columns)
            dump[table] = sorted(db.execute(f'SELECT {selected} FROM "{table}"').fetchall(), key=repr)
        return dump


def django_password_matches(encoded: str, password: str) -> bool:
    """Check a ``pbkdf2_sha256$...`` hash without Django (the test settings only know the MD5 hasher)."""
    algorithm, iterations, salt, expected = encoded.split("$")
    assert algorithm == "pbkdf2_sha256"
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return base64.b64encode(digest).decode() == expected


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("template") / "data"
    result = run_cuore(data_dir, "migrate")
    assert result.returncode == 0, result.stderr
    return data_dir


@pytest.fixture
def data_dir(tmp_path, migrated_template) -> Path:
    """A data directory of this test's own, already migrated."""
    target = tmp_path / "data"
    shutil.copytree(migrated_template, target)
    return target


# --- help -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["demo"],
        ["serve"],
        ["migrate"],
        ["createadmin"],
        ["user"],
        ["user", "create"],
        ["token"],
        ["token", "create"],
    ],
    ids=lambda command: " ".join(command) or "cuore",
)
def test_every_command_has_help(tmp_path, command):
    result = run_cuore(tmp_path / "data", *command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {' '.join(['cuore', *command])} ")
    assert result.stderr == ""
    assert not (tmp_path / "data").exists()  # asking for help touches nothing


def test_module_entry_point_runs_the_same_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cuore.cli", "--help"],
        capture_output=True,
        text=True,
        env=cuore_env(tmp_path / "data"),
        cwd=tmp_path,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: cuore ")


def test_no_command_is_a_usage_error(tmp_path):
    result = run_cuore(tmp_path / "data")

    assert_one_line_error(result, exit_code=2, starts_with="cuore: error: the following arguments are required")


# --- migrate ----------------------------------------------------------------------------------------------


def test_migrate_creates_the_database_in_a_data_dir_that_does_not_exist_yet(tmp_path):
    data_dir = tmp_path / "not" / "there" / "yet"

    result = run_cuore(data_dir, "migrate")

    assert result.returncode == 0, result.stderr
    assert "Applying users.0001_initial... OK" in result.stdout
    assert (data_dir / "cuore.sqlite3").is_file()
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    assert query(data_dir, "SELECT count(*) FROM users_user") == [(0,)]
    assert query(data_dir, "SELECT count(*) FROM django_migrations WHERE app = 'users'")[0][0] >= 1
    assert list(tmp_path.iterdir()) == [tmp_path / "not"]  # nothing written outside the data dir

    again = run_cuore(data_dir, "migrate")

    assert again.returncode == 0, again.stderr
    assert "No migrations to apply." in again.stdout


# --- users, admins and tokens ----------------------------------------------------------------------------


def test_user_create_with_password_on_stdin_then_token_create(data_dir):
    result = user_create(data_dir, "alice", "--role", "sales", "--team", "North")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "created user alice (sales) in team North\n"
    [(user_id, role, team, password, is_staff)] = query(
        data_dir,
        "SELECT u.id, u.role, t.name, u.password, u.is_staff FROM users_user u JOIN users_team t ON t.id = u.team_id "
        "WHERE u.username = 'alice'",
    )
    assert (role, team, is_staff) == ("sales", "North", 0)
    assert django_password_matches(password, STRONG_PASSWORD)

    token = run_cuore(data_dir, "token", "create", "--user", "alice")

    assert token.returncode == 0, token.stderr
    raw = token.stdout.strip()
    assert token.stdout == f"{raw}\n"
    assert raw.startswith("cuore_")
    # The API finds a token by the SHA-256 of what the client sends (users.selectors.token_authenticate).
    key_hash = hashlib.sha256(raw.encode()).hexdigest()
    assert query(data_dir, "SELECT user_id, name, revoked_at FROM users_apitoken WHERE key_hash = ?", (key_hash,)) == [
        (user_id, "command line", None)
    ]

    # User names are unique whatever the case, so they are found whatever the case.
    shouted = run_cuore(data_dir, "token", "create", "--user", "ALICE")

    assert shouted.returncode == 0, shouted.stderr
    assert query(data_dir, "SELECT count(*) FROM users_apitoken WHERE user_id = ?", (user_id,)) == [(2,)]


def test_user_create_joins_an_existing_team_whatever_its_case(data_dir):
    for username, team in [("alice", "North"), ("bruno", "north")]:
        result = user_create(data_dir, username, "--role", "sales", "--team", team)
        assert result.returncode == 0, result.stderr

    assert query(data_dir, "SELECT name FROM users_team") == [("North",)]
    assert query(data_dir, "SELECT count(DISTINCT team_id) FROM users_user") == [(1,)]


def test_createadmin_creates_an_administrator(data_dir):
    result = run_cuore(data_dir, "createadmin", "--username", "boss", "--password-stdin", stdin=f"{STRONG_PASSWORD}\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "created administrator boss\n"
    [(role, is_staff, is_superuser, password)] = query(
        data_dir, "SELECT role, is_staff, is_superuser, password FROM users_user WHERE username = 'boss'"
    )
    assert (role, is_staff, is_superuser) == ("admin", 1, 1)
    assert django_password_matches(password, STRONG_PASSWORD)


# --- bad input --------------------------------------------------------------------------------------------


def test_unknown_role_is_a_usage_error(data_dir):
    result = run_cuore(data_dir, "user", "create", "alice", "--role", "boss", "--password-stdin", stdin="x\n")

    assert_one_line_error(
        result, exit_code=2, starts_with="cuore user create: error: argument --role: invalid choice: 'boss'"
    )
    assert query(data_dir, "SELECT count(*) FROM users_user") == [(0,)]


@pytest.mark.parametrize("second_username", ["alice", "ALICE"])
def test_duplicate_username_is_refused(data_dir, second_username):
    first = user_create(data_dir, "alice", "--role", "sales")
    assert first.returncode == 0, first.stderr

    result = user_create(data_dir, second_username, "--role", "support")

    assert_one_line_error(result, exit_code=1, starts_with="cuore: error: username: is already taken")
    assert query(data_dir, "SELECT username, role FROM users_user") == [("alice", "sales")]


@pytest.mark.parametrize(
    ("command", "stdin", "message"),
    [
        (
            ["user", "create", "alice", "--role", "sales", "--password-stdin"],
            "short\n",
            "cuore: error: password: This password is too short.",
        ),
        (
            ["user", "create", "alice", "--role", "sales", "--password-stdin"],
            "1234567890123\n",
            "cuore: error: password: This password is too common. This password is entirely numeric.",
        ),
        (
            ["user", "create", "alice", "--role", "sales", "--password-stdin"],
            "",
            "cuore: error: no password on standard input",
        ),
        (
            ["user", "create", "alice", "--role", "sales", "--password-stdin"],
            "\n",
            "cuore: error: no password on standard input",
        ),
        (
            ["createadmin", "--username", "alice", "--password-stdin"],
            "short\n",
            "cuore: error: password: This password is too short.",
        ),
        (
            ["createadmin", "--username", "alice"],
            f"{STRONG_PASSWORD}\n",
            "cuore: error: no terminal to ask the password on: pass --password-stdin",
        ),
    ],
    ids=["too-short", "numeric", "empty-stdin", "empty-line", "admin-too-short", "admin-no-tty"],
)
def test_unusable_password_is_refused_and_creates_nobody(data_dir, command, stdin, message):
    result = run_cuore(data_dir, *command, stdin=stdin)

    assert_one_line_error(result, exit_code=1, starts_with=message)
    assert query(data_dir, "SELECT count(*) FROM users_user") == [(0,)]


def test_token_for_an_unknown_user_is_refused(data_dir):
    result = run_cuore(data_dir, "token", "create", "--user", "nobody")

    assert_one_line_error(result, exit_code=1, starts_with="cuore: error: no user named 'nobody'")
    assert query(data_dir, "SELECT count(*) FROM users_apitoken") == [(0,)]


@pytest.mark.parametrize(
    ("customers", "message"),
    [
        ("0", "cuore demo: error: argument --customers: '0' must be at least 1"),
        ("-5", "cuore demo: error: argument --customers: '-5' must be at least 1"),
        ("abc", "cuore demo: error: argument --customers: 'abc' is not a whole number"),
    ],
)
def test_demo_with_a_bad_number_of_customers_is_a_usage_error(tmp_path, customers, message):
    result = run_cuore(tmp_path / "data", "demo", f"--customers={customers}", "--no-serve")

    assert_one_line_error(result, exit_code=2, starts_with=message)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("0", "cuore serve: error: argument --port: '0' must be at least 1"),
        ("65536", "cuore serve: error: argument --port: '65536' is not a TCP port (1-65535)"),
    ],
)
def test_serve_on_an_impossible_port_is_a_usage_error(tmp_path, port, message):
    result = run_cuore(tmp_path / "data", "serve", "--port", port)

    assert_one_line_error(result, exit_code=2, starts_with=message)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CUORE_DEBUG", "maybe", "cuore: error: configuration: CUORE_DEBUG='maybe' is not a boolean"),
        (
            "CUORE_DATABASE_URL",
            "mysql://x",
            "cuore: error: configuration: CUORE_DATABASE_URL='mysql://x': unsupported scheme 'mysql'",
        ),
        ("CUORE_DATABASE_URL", "sqlite://", "cuore: error: configuration: CUORE_DATABASE_URL: the SQLite URL has no"),
        ("CUORE_SECRET_KEY", "short", "cuore: error: configuration: CUORE_SECRET_KEY is too short"),
        ("CUORE_EMAIL_URL", "smtp://", "cuore: error: configuration: CUORE_EMAIL_URL: the SMTP URL names no host."),
    ],
)
def test_malformed_environment_gives_one_configuration_line(tmp_path, variable, value, message):
    data_dir = tmp_path / "data"

    result = run_cuore(data_dir, "migrate", env=cuore_env(data_dir, **{variable: value}))

    assert_one_line_error(result, exit_code=1, starts_with=message)


def test_production_mode_without_a_secret_key_is_refused(tmp_path):
    data_dir = tmp_path / "data"

    result = run_cuore(data_dir, "migrate", env=cuore_env(data_dir, CUORE_DEBUG="0"))

    assert_one_line_error(
        result, exit_code=1, starts_with="cuore: error: configuration: CUORE_SECRET_KEY must be set when CUORE_DEBUG"
    )


@pytest.mark.parametrize("secret_key_set", [False, True], ids=["generated-key", "key-from-env"])
def test_data_dir_under_a_regular_file_is_refused(tmp_path, secret_key_set):
    (tmp_path / "file").write_text("not a directory")
    data_dir = tmp_path / "file" / "data"
    extra = {"CUORE_SECRET_KEY": "k" * 40} if secret_key_set else {}

    result = run_cuore(data_dir, "migrate", env=cuore_env(data_dir, **extra))

    assert_one_line_error(result, exit_code=1, starts_with="cuore: error: ")
    assert str(data_dir) in result.stderr
    assert result.stderr.rstrip().endswith("Not a directory")


def test_data_dir_that_is_a_regular_file_is_refused(tmp_path):
    data_dir = tmp_path / "file"
    data_dir.write_text("not a directory")

    result = run_cuore(data_dir, "migrate")

    assert_one_line_error(
        result, exit_code=1, starts_with=f"cuore: error: configuration: CUORE_DATA_DIR='{data_dir}' exists and is not"
    )


def test_commands_before_migrate_say_what_is_missing(tmp_path):
    data_dir = tmp_path / "data"

    result = run_cuore(data_dir, "token", "create", "--user", "alice")

    assert_one_line_error(result, exit_code=1, starts_with="cuore: error: database: no such table: users_user")


# --- demo -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_loads_prints_the_logins_and_reloads_only_with_reset(data_dir):
    first = run_cuore(data_dir, "demo", "--customers", "30", "--seed", "7", "--no-serve")

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Loaded demo data for 30 customers (seed 7, ")
    assert "Cuore's data is ready: `cuore serve` serves it at http://127.0.0.1:8000\n" in first.stdout
    for username in DEMO_USERNAMES:
        assert f"  {username:<10} " in first.stdout
    assert first.stdout.count("password: cuore-demo-2026") == len(DEMO_USERNAMES)
    assert "  cuore token create --user admin\n" in first.stdout
    assert (
        """-d '{"username": "admin", "password": "cuore-demo-2026"}' http://127.0.0.1:8000/api/v1/auth/token\n"""
        in first.stdout
    )
    assert "curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/contacts" in first.stdout
    loaded = crm_dump(data_dir)
    # the 30 customers, and the new people of the e-shop's export that the demo imports and resolves
    assert query(data_dir, "SELECT count(*) FROM contacts_contact WHERE source != 'eshop'") == [(30,)]
    assert query(data_dir, "SELECT count(*) FROM identity_sourcerecord")[0][0] > 30
    assert [name for (name,) in query(data_dir, "SELECT username FROM users_user ORDER BY id")] == DEMO_USERNAMES

    # Given CRM data, the same command loads nothing and says how to replace it.
    second = run_cuore(data_dir, "demo", "--customers", "30", "--seed", "7", "--no-serve")

    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(
        "CRM data is already there, so no demo data was loaded (use --reset to replace it).\n"
    )
    assert "Cuore's data is ready: `cuore serve` serves it at http://127.0.0.1:8000\n" in second.stdout
    assert crm_dump(data_dir) == loaded

    # --reset replaces the data: the same seed gives exactly the same rows, ids included.
    reset = run_cuore(data_dir, "demo", "--customers", "30", "--seed", "7", "--no-serve", "--reset")

    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith("Deleted the CRM data and loaded demo data for 30 customers (seed 7, ")
    assert crm_dump(data_dir) == loaded
    assert query(data_dir, "SELECT count(*) FROM users_user") == [(len(DEMO_USERNAMES),)]

    other_seed = run_cuore(data_dir, "demo", "--customers", "30", "--seed", "8", "--no-serve", "--reset")

    assert other_seed.returncode == 0, other_seed.stderr
    other = crm_dump(data_dir)
    assert query(data_dir, "SELECT count(*) FROM contacts_contact WHERE source != 'eshop'") == [(30,)]
    assert other["contacts_contact"] != loaded["contacts_contact"]


@pytest.mark.slow
def test_demo_gives_the_same_data_in_a_fresh_data_dir(tmp_path, data_dir):
    fresh = tmp_path / "fresh" / "data"  # not migrated: demo migrates it

    results = [run_cuore(d, "demo", "--customers", "30", "--seed", "7", "--no-serve") for d in (data_dir, fresh)]

    assert [result.returncode for result in results] == [0, 0], [result.stderr for result in results]
    assert crm_dump(fresh) == crm_dump(data_dir)


# --- serve ------------------------------------------------------------------------------------------------


def http_get(url: str, token: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


@pytest.mark.slow
def test_serve_answers_the_api_and_static_files_until_terminated(data_dir, tmp_path):
    created = user_create(data_dir, "alice", "--role", "sales", "--team", "North")
    assert created.returncode == 0, created.stderr
    token = run_cuore(data_dir, "token", "create", "--user", "alice").stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"

    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(CUORE), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cuore_env(data_dir),
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            assert server.poll() is None, f"cuore serve exited with {server.returncode}:\n{log_path.read_text()}"
            try:
                status, content_type, body = http_get(f"{base}/api/v1/openapi.json")
            except OSError:  # not listening yet
                time.sleep(0.2)
                continue
            if status == 200:
                break
        assert status == 200, log_path.read_text()
        assert content_type.startswith("application/json")
        assert "/api/v1/contacts" in json.loads(body)["paths"]

        status, content_type, docs = http_get(f"{base}/api/v1/docs")
        assert status == 200
        assert content_type.startswith("text/html")
        assert b"/static/ninja/swagger-ui.css" in docs

        # collectstatic ran and WhiteNoise serves the result.
        status, content_type, css = http_get(f"{base}/static/ninja/swagger-ui.css")
        assert (status, content_type.split(";")[0]) == (200, "text/css")
        assert css == (Path(ninja.__file__).parent / "static" / "ninja" / "swagger-ui.css").read_bytes()
        assert (data_dir / "static" / "ninja" / "swagger-ui.css").is_file()

        # The token printed by `cuore token create` authenticates as the user `cuore user create` made.
        status, _, me = http_get(f"{base}/api/v1/me", token=token)
        assert status == 200
        me = json.loads(me)
        assert (me["username"], me["role"], me["is_active"]) == ("alice", "sales", True)
        assert query(data_dir, "SELECT name FROM users_team WHERE id = ?", (me["team_id"],)) == [("North",)]

        status, _, _ = http_get(f"{base}/api/v1/me", token=token[:-1] + ("A" if token[-1] != "A" else "B"))
        assert status == 401
        status, _, _ = http_get(f"{base}/api/v1/me")
        assert status == 401
    finally:
        server.terminate()
        try:
            exit_code = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # the process group this test started, nothing else
            server.wait()
            raise
    assert exit_code == 0, log_path.read_text()
    assert "Shutting down: Master" in log_path.read_text()


@pytest.mark.slow
def test_analytics_run_scores_the_customers_and_refuses_a_bad_date(data_dir):
    assert run_cuore(data_dir, "demo", "--customers", "30", "--seed", "7", "--no-serve").returncode == 0

    result = run_cuore(data_dir, "analytics", "run", "--as-of", "2026-11-01")
    bad = run_cuore(data_dir, "analytics", "run", "--as-of", "yesterday")

    assert result.returncode == 0, result.stderr
    # the demo scored its customers once (run 1); this is the second run
    assert result.stdout.startswith("analytics run 2 as of 2026-11-01: ") and " contacts and " in result.stdout
    assert "\nABC A=" in result.stdout and "\nstages: extract " in result.stdout
    assert (data_dir / "warehouse" / "warehouse.duckdb").exists()
    assert query(data_dir, "SELECT count(*) FROM analytics_contactscore")[0][0] > 0
    assert_one_line_error(bad, exit_code=2, starts_with="cuore analytics run: error: argument --as-of:")


# --- worker and jobs --------------------------------------------------------------------------------------

# A job for the worker tests, importable by the `cuore` command's code: the script sets Django up,
# registers `test.slow`, then either enqueues one or runs `cuore` (cuore.cli.main) with its arguments.
SLOW_TASKS = '''
import datetime as dt
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
from cuore.core.jobs import enqueue, job


@job("test.slow")
def slow(marker: str, seconds: float) -> dict:
    """Note each start in the marker file; sleep on the first only."""
    path = Path(marker)
    with path.open("a") as notes:
        notes.write(f"{os.getpid()}\\n")
    runs = len(path.read_text().splitlines())
    if runs == 1:
        time.sleep(seconds)
    return {"runs": runs}


if __name__ == "__main__":
    if sys.argv[1] == "enqueue":
        # Older than any periodic occurrence, so the worker takes it first.
        queued = enqueue(
            "test.slow", {"marker": sys.argv[2], "seconds": float(sys.argv[3])}, run_after=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        )
        print(queued.pk)
    else:
        from cuore.cli import main

        sys.exit(main(sys.argv[1:]))
'''


def slow_tasks(tmp_path: Path) -> Path:
    script = tmp_path / "slow_tasks.py"
    script.write_text(SLOW_TASKS)
    return script


def wait_for(condition, *, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + (f":\n{log.read_text()}" if log else "")
        time.sleep(0.05)


def job_rows(data_dir: Path) -> dict[str, tuple]:
    rows = query(data_dir, "SELECT name, status, attempts, dedupe_key, result FROM core_job ORDER BY id")
    return {
        name: (status, attempts, key, json.loads(result) if result else None)
        for name, status, attempts, key, result in rows
    }


@pytest.mark.parametrize("command", [["worker"], ["jobs"]], ids=" ".join)
def test_worker_and_jobs_have_help(tmp_path, command):
    result = run_cuore(tmp_path / "data", *command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: cuore {command[0]} ")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["worker", "--poll", "soon"], "cuore worker: error: argument --poll: 'soon' is not a number of seconds"),
        (["worker", "--poll", "0"], "cuore worker: error: argument --poll: '0' must be above 0"),
        (["worker", "--poll", "nan"], "cuore worker: error: argument --poll: 'nan' must be above 0"),
        (["jobs", "--limit", "0"], "cuore jobs: error: argument --limit: '0' must be at least 1"),
        (["jobs", "--status", "lost"], "cuore jobs: error: argument --status: invalid choice: 'lost'"),
    ],
)
def test_worker_and_jobs_refuse_bad_arguments_in_one_line(tmp_path, arguments, message):
    result = run_cuore(tmp_path / "data", *arguments)

    assert_one_line_error(result, exit_code=2, starts_with=message)


def test_worker_before_migrate_says_what_is_missing(tmp_path):
    result = run_cuore(tmp_path / "data", "worker", "--once")

    assert_one_line_error(result, exit_code=1, starts_with="cuore: error: database: no such table: core_job")


@pytest.mark.slow
def test_worker_once_runs_the_due_periodic_jobs_once(data_dir):
    result = run_cuore(data_dir, "worker", "--once")

    assert result.returncode == 0, result.stderr
    jobs = job_rows(data_dir)
    assert set(jobs) == {"core.jobs_prune", "service.sla_sweep", "analytics.nightly"}
    assert jobs["service.sla_sweep"][:2] == ("succeeded", 1)
    assert jobs["service.sla_sweep"][3] == {"first_response": 0, "resolution": 0}
    assert jobs["service.sla_sweep"][2].startswith("service.sla_sweep@")
    [(run_id,)] = query(data_dir, "SELECT id FROM analytics_analyticsrun")
    assert jobs["analytics.nightly"] == ("succeeded", 1, jobs["analytics.nightly"][2], {"run_id": run_id})
    assert jobs["core.jobs_prune"][::3] == ("succeeded", {"deleted": 0})
    lines = result.stdout.splitlines()
    assert len(lines) == 3 + 3 + 1  # enqueued, then done, for each; then the count
    assert sum(" service.sla_sweep: enqueued for " in line for line in lines) == 1
    assert sum(" service.sla_sweep: succeeded in " in line for line in lines) == 1
    assert lines[-1] == "3 jobs run"

    # The same occurrences are not enqueued again, by this worker or any other.
    again = run_cuore(data_dir, "worker", "--once")

    assert again.returncode == 0, again.stderr
    assert again.stdout == "0 jobs run\n"
    assert query(data_dir, "SELECT count(*) FROM core_job") == [(3,)]

    listed = run_cuore(data_dir, "jobs")

    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 3
    assert all(" succeeded " in line for line in listed.stdout.splitlines())
    assert "service.sla_sweep" in listed.stdout and '{"first_response": 0, "resolution": 0}' in listed.stdout
    only = run_cuore(data_dir, "jobs", "--status", "failed")
    assert (only.returncode, only.stdout) == (0, "")


@pytest.mark.slow
def test_a_killed_worker_loses_nothing(data_dir, tmp_path):
    script = slow_tasks(tmp_path)
    marker = tmp_path / "slow.runs"
    env = cuore_env(data_dir, CUORE_JOB_LEASE_SECONDS="2")
    enqueued = subprocess.run(
        [sys.executable, str(script), "enqueue", str(marker), "60"], capture_output=True, text=True, env=env, timeout=60
    )
    assert enqueued.returncode == 0, enqueued.stderr
    job_id = int(enqueued.stdout)

    worker = subprocess.Popen(
        [sys.executable, str(script), "worker", "--poll", "0.2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(lambda: marker.exists(), timeout=30, what="the worker to start the job")
        # Let the heartbeat renew the 2-second lease at least once before the kill.
        time.sleep(1.5)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the process group this test started, nothing else
        worker.wait()
    [(status, attempts, first_worker)] = query(
        data_dir, "SELECT status, attempts, worker_id FROM core_job WHERE id = ?", (job_id,)
    )
    assert (status, attempts) == ("running", 1)  # left as the killed worker had it

    time.sleep(2.5)  # the lease expires
    second = subprocess.run(
        [sys.executable, str(script), "worker", "--once"], capture_output=True, text=True, env=env, timeout=120
    )

    assert second.returncode == 0, second.stderr
    assert f"job {job_id} test.slow: succeeded in " in second.stdout
    [(status, attempts, worker_id, result)] = query(
        data_dir, "SELECT status, attempts, worker_id, result FROM core_job WHERE id = ?", (job_id,)
    )
    assert (status, attempts, json.loads(result)) == ("succeeded", 2, {"runs": 2})
    assert worker_id != first_worker
    assert len(marker.read_text().splitlines()) == 2


@pytest.mark.slow
def test_sigterm_stops_the_worker_after_the_current_job(data_dir, tmp_path):
    script = slow_tasks(tmp_path)
    marker = tmp_path / "slow.runs"
    env = cuore_env(data_dir)
    enqueued = subprocess.run(
        [sys.executable, str(script), "enqueue", str(marker), "1.5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    job_id = int(enqueued.stdout)
    worker = subprocess.Popen(
        [sys.executable, str(script), "worker", "--poll", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(lambda: marker.exists(), timeout=30, what="the worker to start the job")
        worker.send_signal(signal.SIGTERM)
        stdout, stderr = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()

    assert worker.returncode == 0, stderr
    first, *enqueued, stopping, done, last = stdout.splitlines()
    assert first.startswith("worker ") and first.endswith(": polling every 0.2 s, leases of 300 s")
    assert enqueued and all(" enqueued for " in line for line in enqueued)  # the periodic jobs
    assert stopping == "SIGTERM: stopping after the current job"
    assert done.startswith(f"job {job_id} test.slow: succeeded in 1.")
    assert last.endswith(": stopped")
    assert query(data_dir, "SELECT status, attempts FROM core_job WHERE id = ?", (job_id,)) == [("succeeded", 1)]
    # It stopped instead of running the periodic jobs it had enqueued.
    assert query(data_dir, "SELECT count(*) FROM core_job WHERE status = 'queued'") == [(len(enqueued),)]


@pytest.mark.slow
def test_serve_with_worker_runs_the_jobs_in_one_server_process(data_dir, tmp_path):
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(CUORE), "serve", "--worker", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cuore_env(data_dir),
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        # Each of the three periodic jobs (the SLA sweep may run twice when its five-minute slot turns meanwhile).
        wait_for(
            lambda: (
                {name for (name,) in query(data_dir, "SELECT name FROM core_job WHERE status = 'succeeded'")}
                == {"core.jobs_prune", "service.sla_sweep", "analytics.nightly"}
            ),
            timeout=60,
            what="the periodic jobs to run",
            log=log_path,
        )
        status, _, _ = http_get(f"http://127.0.0.1:{port}/api/v1/openapi.json")
        assert status == 200
        running = log_path.read_text()
        assert running.count("Booting worker with pid") == 2
        assert running.count("[jobs] worker ") == 1  # one job thread in the whole server
    finally:
        server.terminate()
        try:
            exit_code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            raise
    log = log_path.read_text()
    assert exit_code == 0, log
    assert "[jobs] job " in log and " service.sla_sweep: succeeded in " in log
    assert "Shutting down: Master" in log
    assert len({worker for (worker,) in query(data_dir, "SELECT worker_id FROM core_job")}) == 1
