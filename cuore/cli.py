"""The ``cuore`` command: set up, load demo data, serve, manage users and tokens.

Thin by design: it parses arguments, then calls the same services the API and the UI use.
Bad input gets one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from cuore.analytics.cli import add_file_commands, cmd_analytics_run, iso_date
from cuore.identity.cli import add_identity_commands
from cuore.imports.cli import add_import_command

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


class CommandError(Exception):
    """A reason to stop, told to the user in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not the usage block
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise CommandError(f"configuration: {exc}") from None
    except OSError as exc:
        # Loading the settings may write the generated secret key into the data directory.
        raise CommandError(f"configuration: cannot write {exc.filename}: {exc.strerror}") from None
    from django.conf import settings

    try:
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create the data directory {settings.DATA_DIR}: {exc.strerror}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86400:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 and at most 86400 seconds")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return value


def _read_password(stdin: bool, prompt: str = "Password: ") -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise CommandError("no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask the password on: pass --password-stdin")
    first = getpass.getpass(prompt)
    if first != getpass.getpass("Password (again): "):
        raise CommandError("the two passwords differ")
    return first


def _migrate(verbose: bool = False) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if verbose else 0)


def cmd_migrate(args: argparse.Namespace) -> int:
    _migrate(verbose=True)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from cuore.core.server import serve

    serve(host=args.host, port=args.port, workers=args.workers, job_worker=args.worker)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import signal

    from cuore.core.jobs import Worker

    worker = Worker(poll_seconds=args.poll)

    def stop(signum: int, frame: object) -> None:
        # os.write, not print: a signal handler may interrupt a print to the same buffered stream.
        os.write(sys.stdout.fileno(), f"{signal.Signals(signum).name}: stopping after the current job\n".encode())
        worker.stop()
        signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)  # the first one lets the current job finish; a second one does not wait
    if args.once:
        ran = worker.run_once()
        print(f"{ran} job{'s' if ran != 1 else ''} run")
    else:
        worker.run_forever()
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from cuore.core.jobs import job_line, jobs_recent

    for job in jobs_recent(limit=args.limit, status=args.status):
        print(job_line(job))
    return 0


def _demo_analytics(*, loaded: bool, reset: bool) -> None:
    """Score the demo customers, so the value panel and the analytics pages have something to show."""
    from cuore.analytics.selectors import analytics_run_last
    from cuore.analytics.services import analytics_reset, analytics_run

    if reset:
        analytics_reset()
    if loaded or analytics_run_last() is None:
        print("Scoring the customers (cuore analytics run)...", flush=True)
        run = analytics_run()
        print(f"{run.figures['scored']['contact']:,} contacts scored in {run.figures['seconds']:.1f} s")


def _demo_identity(*, loaded: bool, seed: int) -> None:
    """Import a web shop's export of some demo customers, so identity resolution has something to show."""
    if not loaded:
        return
    from cuore.demo.generator import demo_users_ensure
    from cuore.demo.identity import demo_identity
    from cuore.users.selectors import user_for_command

    demo_users_ensure()
    print("Importing the web shop's customers and resolving identities (cuore import)...", flush=True)
    figures = demo_identity(actor=user_for_command(None), seed=seed)
    print(
        f"{figures['rows']:,} web shop rows: {figures.get('linked', 0) + figures.get('by_rule', 0):,} joined a contact, "
        f"{figures.get('new_contacts', 0):,} new contacts, {figures.get('review_items', 0):,} pairs to review"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from cuore.demo.generator import demo_users_ensure, generate_demo_data

    _migrate()
    summary = generate_demo_data(customers=args.customers, seed=args.seed, progress=True, reset=args.reset)
    print(summary.describe())
    _demo_identity(loaded=summary.loaded, seed=args.seed)
    _demo_analytics(loaded=summary.loaded, reset=summary.reset)
    logins = demo_users_ensure()
    address = f"http://{args.host}:{args.port}"
    print()
    if args.no_serve:
        print(f"Cuore's data is ready: `cuore serve` serves it at {address}")
    else:
        print(f"Cuore is ready at {address}")
    print("Log in with any of these users (all share the password shown):")
    for login in logins:
        print(f"  {login.username:<10} {login.role:<10} password: {login.password}")
    first = logins[0]
    print("API: exchange a login for a token")
    print(
        "  curl -X POST -H 'Content-Type: application/json' "
        f"""-d '{{"username": "{first.username}", "password": "{first.password}"}}' {address}/api/v1/auth/token"""
    )
    print("or create one on this machine with")
    print(f"  cuore token create --user {first.username}")
    print("then")
    print(f"  curl -H 'Authorization: Bearer <token>' {address}/api/v1/contacts  (docs: {address}/api/v1/docs)")
    if args.no_serve:
        return 0
    from cuore.core.server import serve

    serve(host=args.host, port=args.port, workers=args.workers, job_worker=True)
    return 0


def cmd_createadmin(args: argparse.Namespace) -> int:
    from cuore.core.roles import Role
    from cuore.users.services import user_create

    password = _read_password(args.password_stdin)
    user = user_create(actor=None, username=args.username, role=Role.ADMIN, password=password, email=args.email or "")
    print(f"created administrator {user.username}")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from cuore.users.selectors import team_get_by_name
    from cuore.users.services import team_create, user_create

    password = _read_password(args.password_stdin) if args.password_stdin or sys.stdin.isatty() else None
    team = None
    if args.team:
        team = team_get_by_name(args.team) or team_create(actor=None, name=args.team)
    user = user_create(
        actor=None, username=args.username, role=args.role, password=password, email=args.email or "", team=team
    )
    suffix = f" in team {team.name}" if team else ""
    print(f"created user {user.username} ({user.role}){suffix}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from cuore.users.selectors import user_get_by_username
    from cuore.users.services import token_create

    user = user_get_by_username(args.user)
    if user is None:
        raise CommandError(f"no user named {args.user!r}")
    issued = token_create(actor=None, user=user, name=args.name or "command line")
    print(issued.raw)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from cuore.core.roles import Role

    parser = _Parser(prog="cuore", description="Cuore, the open-source CRM.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="load demo data and serve the CRM",
        description="Migrate, load deterministic demo data, print logins and serve.",
    )
    demo.add_argument(
        "--customers", type=_positive_int, default=5000, help="number of customers to generate (default 5000)"
    )
    demo.add_argument(
        "--seed", type=int, default=42, help="random seed; the same seed gives the same data (default 42)"
    )
    demo.add_argument("--no-serve", action="store_true", help="load the data and stop, without serving")
    demo.add_argument("--reset", action="store_true", help="delete the existing CRM data first")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    demo.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    demo.add_argument("--workers", type=_positive_int, default=None, help="server processes (default: from the cores)")
    demo.set_defaults(handler=cmd_demo)

    serve = commands.add_parser(
        "serve",
        help="serve the CRM with a production web server",
        description="Serve Cuore with gunicorn; static files are served by WhiteNoise.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=_positive_int, default=None, help="server processes (default: from the cores)")
    serve.add_argument("--worker", action="store_true", help="also run the background jobs (as `cuore worker` does)")
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser(
        "migrate", help="create or update the database schema", description="Apply the database migrations."
    )
    migrate.set_defaults(handler=cmd_migrate)

    worker = commands.add_parser(
        "worker",
        help="run the background jobs",
        description="Enqueue the due periodic jobs and run the queued ones until SIGTERM or Ctrl-C, which "
        "stop it after the current job.",
    )
    worker.add_argument("--once", action="store_true", help="run what is due now, then exit (for cron and tests)")
    worker.add_argument(
        "--poll", type=_positive_seconds, default=1.0, metavar="SECONDS", help="wait between polls (default 1)"
    )
    worker.set_defaults(handler=cmd_worker)
    jobs = commands.add_parser("jobs", help="list recent background jobs", description="List the latest jobs.")
    jobs.add_argument("--limit", type=_positive_int, default=20, help="how many (default 20)")
    jobs.add_argument("--status", choices=["queued", "running", "succeeded", "failed"], help="only jobs in this state")
    jobs.set_defaults(handler=cmd_jobs)

    createadmin = commands.add_parser(
        "createadmin", help="create an administrator", description="Create a user with the admin role."
    )
    createadmin.add_argument("--username", default="admin", help="user name (default admin)")
    createadmin.add_argument("--email", help="email address")
    createadmin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    createadmin.set_defaults(handler=cmd_createadmin)

    user = commands.add_parser("user", help="manage users", description="Manage users.")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", parser_class=_Parser)
    user_commands.required = True
    user_create = user_commands.add_parser("create", help="create a user", description="Create a user with a role.")
    user_create.add_argument("username", metavar="USERNAME")
    user_create.add_argument("--role", required=True, choices=Role.values, help="the user's role")
    user_create.add_argument("--team", help="team name (created if it does not exist)")
    user_create.add_argument("--email", help="email address")
    user_create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user_create.set_defaults(handler=cmd_user_create)

    token = commands.add_parser("token", help="manage API tokens", description="Manage API tokens.")
    token_commands = token.add_subparsers(dest="token_command", metavar="ACTION", parser_class=_Parser)
    token_commands.required = True
    token_create = token_commands.add_parser(
        "create",
        help="issue an API token and print it",
        description="Issue an API token; it is printed once and stored hashed.",
    )
    token_create.add_argument("--user", required=True, metavar="USERNAME", help="the user the token acts as")
    token_create.add_argument("--name", help="a label for the token")
    token_create.set_defaults(handler=cmd_token_create)

    analytics = commands.add_parser("analytics", help="score the customers", description="Run the analytics engine.")
    analytics_commands = analytics.add_subparsers(dest="analytics_command", metavar="ACTION", parser_class=_Parser)
    analytics_commands.required = True
    analytics_run = analytics_commands.add_parser(
        "run",
        help="score every customer: RFM, ABC, lifetime value, churn risk, next best offers",
        description="Score every customer, keep the scores in the warehouse history, evaluate segments and alerts.",
    )
    analytics_run.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="score as of this date (default: today, UTC)"
    )
    analytics_run.set_defaults(handler=cmd_analytics_run)
    add_file_commands(analytics_commands, _Parser)
    add_import_command(commands, _Parser)
    add_identity_commands(commands, _Parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _setup_django()
        from django.db import DatabaseError

        from cuore.core.audit import audit_channel
        from cuore.core.errors import CuoreError, ValidationFailed

        try:
            with audit_channel("job"):
                return args.handler(args)
        except ValidationFailed as exc:
            raise CommandError("; ".join(f"{field}: {reason}" for field, reason in exc.errors.items())) from None
        except CuoreError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(f"database: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    except CommandError as exc:
        print(f"cuore: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("cuore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
