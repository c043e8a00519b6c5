"""Load deterministic demo data: the same seed gives the same customers, orders, deals and tickets.

``generate_demo_data`` is a bulk path (STYLE.md habit 6): it does not go through the services one row
at a time but writes tuples straight into the tables, chunk by chunk, with ids it hands out itself, so
5,000 customers take seconds and a million take minutes with bounded memory. One audit entry records
the load. ``demo_users_ensure`` creates the demo teams and one user per role.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from tqdm import tqdm

from cuore.core.audit import audit_record
from cuore.core.roles import Role
from cuore.demo.bulk import TimeFormat, Writer, crm_data_exists, crm_delete_all, crm_models, sequences_repair
from cuore.demo.catalogue import load_catalogue
from cuore.demo.customers import CustomerBuilder, Staff
from cuore.demo.pools import build_pools
from cuore.demo.rand import DemoRandom
from cuore.demo.reference import DATA_NOW, DEMO_PASSWORD, DEMO_TEAMS, DEMO_USERS, FIRST_DAY, LAST_DAY
from cuore.service.services import ticket_number
from cuore.users.models import Team, User

CHUNK_CUSTOMERS = 2000
CUSTOMERS_PER_ACCOUNT = 25
# From this many customers the rows are generated in a second process while this one inserts them.
PARALLEL_FROM = 20_000


@dataclass(frozen=True)
class DemoLogin:
    """A demo user's credentials, as printed by ``cuore demo``."""

    username: str
    role: str
    password: str


@dataclass
class DemoSummary:
    """What a demo load did: the rows per table and how long it took."""

    loaded: bool
    seed: int
    customers: int
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    reset: bool = False

    def describe(self) -> str:
        figures = ", ".join(f"{name} {count:,}" for name, count in self.counts.items() if count)
        if not self.loaded:
            return (
                "CRM data is already there, so no demo data was loaded (use --reset to replace it).\n"
                f"Rows: {figures or 'none'}."
            )
        action = "Deleted the CRM data and loaded" if self.reset else "Loaded"
        return (
            f"{action} demo data for {self.customers:,} customers (seed {self.seed}, data up to "
            f"{DATA_NOW:%Y-%m-%d}) in {self.seconds:.1f} s.\nRows: {figures}."
        )


def demo_users_ensure() -> list[DemoLogin]:
    """Create the demo teams and one demo user per role unless they exist; return the logins, admin first.

    A demo user that already exists is left as it is (its password too, if someone changed it).
    """
    with transaction.atomic():
        teams: dict[str, Team] = {}
        for name in DEMO_TEAMS:
            team = Team.objects.filter(name__iexact=name).first()
            if team is None:
                team = Team.objects.create(name=name)
                audit_record(actor=None, action="team.create", instance=team, changes={"name": [None, name]})
            teams[name] = team
        hashed = None
        logins = []
        for username, role, team_name, first_name, last_name in DEMO_USERS:
            user = User.objects.filter(username__iexact=username).first()
            if user is None:
                # One hash for all: the demo users share a published password, and hashing is slow on purpose.
                hashed = hashed or make_password(DEMO_PASSWORD)
                user = User.objects.create(
                    username=username,
                    password=hashed,
                    role=role,
                    team=teams[team_name] if team_name else None,
                    first_name=first_name,
                    last_name=last_name,
                    email=f"{username}@demo.example.com",
                    language="en" if team_name == "International" else "it",
                    is_staff=role == Role.ADMIN,
                    is_superuser=role == Role.ADMIN,
                )
                audit_record(
                    actor=None,
                    action="user.create",
                    instance=user,
                    changes={"username": [None, username], "role": [None, role], "team": [None, user.team_id]},
                )
            logins.append(DemoLogin(user.username, user.role, DEMO_PASSWORD))
    return logins


def _staff() -> Staff:
    users = list(User.objects.filter(is_active=True).select_related("team").order_by("id"))
    admin = next((user for user in users if user.role == Role.ADMIN), users[0])
    sales = [user for user in users if user.role == Role.SALES]
    by_team = {}
    for zone in ("Nord", "Sud", "International"):
        user = next((user for user in sales if user.team and user.team.name == zone), sales[0] if sales else admin)
        by_team[zone] = (user.pk, user.team_id)
    support = [user.pk for user in users if user.role == Role.SUPPORT] or [admin.pk]
    marketing = next((user.pk for user in users if user.role == Role.MARKETING), None)
    return Staff(sales=by_team, support=support, marketing=marketing)


def crm_counts() -> dict[str, int]:
    """Return the number of rows of every CRM table that has any."""
    counts = {}
    for model in crm_models():
        count = model.objects.count()
        if count:
            counts[_label(model)] = count
    return counts


def _label(model) -> str:
    meta = model._meta
    if meta.auto_created:
        return f"{meta.auto_created._meta.verbose_name} tags"
    if "verbose_name_plural" in meta.original_attrs:
        return str(meta.verbose_name_plural)
    name = str(meta.verbose_name)
    return f"{name}es" if name.endswith(("s", "x")) else f"{name}s"


@contextlib.contextmanager
def _bulk_mode() -> Iterator[None]:
    """On SQLite, skip the fsync at each commit and cache more pages while loading; restore both after."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        (synchronous,) = cursor.fetchone()
        cursor.execute("PRAGMA cache_size")
        (cache_size,) = cursor.fetchone()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-524288")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={int(synchronous)}")
            cursor.execute(f"PRAGMA cache_size={int(cache_size)}")


@contextlib.contextmanager
def _chunk_transaction() -> Iterator[None]:
    """One transaction per chunk; on PostgreSQL its commit does not wait for the WAL flush."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def _accounts_until(customers: int) -> int:
    return (customers + CUSTOMERS_PER_ACCOUNT // 2) // CUSTOMERS_PER_ACCOUNT


def _chunks(builder: CustomerBuilder, writer: Writer, customers: int) -> Iterator[tuple[int, list[tuple[int, list]]]]:
    """Generate the customers chunk by chunk; yield each chunk's size and its rows per table (by position)."""
    for start in range(0, customers, CHUNK_CUSTOMERS):
        size = min(CHUNK_CUSTOMERS, customers - start)
        accounts = builder.make_accounts(_accounts_until(start + size) - _accounts_until(start))
        for _ in range(size):
            builder.make_customer(accounts)
        rows = [(index, table.rows) for index, table in enumerate(writer.tables) if table.rows]
        for table in writer.tables:
            table.rows = []
        yield size, rows


def _produce(builder: CustomerBuilder, writer: Writer, customers: int, sender) -> None:
    """Run in a forked process: generate every chunk and send it to the parent, which inserts it.

    The child never touches the database (the ids were reserved before the fork), and the pipe holds
    at most one chunk, so the generator runs at most one chunk ahead of the inserts and memory stays flat.
    """
    try:
        for chunk in _chunks(builder, writer, customers):
            sender.send(chunk)
        sender.send(None)
    except BaseException:
        sender.send(traceback.format_exc())
    finally:
        sender.close()


def _forked_chunks(builder: CustomerBuilder, writer: Writer, customers: int) -> Iterator[tuple[int, list]]:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_produce, args=(builder, writer, customers, sender), daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            message = receiver.recv()
            if message is None:
                break
            if isinstance(message, str):
                raise RuntimeError(f"the demo data generator failed:\n{message}")
            yield message
        child.join()
    finally:
        if child.is_alive():
            child.terminate()
            child.join()
        receiver.close()


def _parallel_possible() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def generate_demo_data(
    *, customers: int = 5000, seed: int = 42, progress: bool = False, reset: bool = False, parallel: bool | None = None
) -> DemoSummary:
    """Load ``customers`` demo customers and everything around them; load nothing if CRM data exists.

    ``parallel`` generates the rows in a second process while this one inserts them (the default for
    large loads where ``fork`` exists); the data is the same either way, since one generator makes it.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    started = time.perf_counter()
    if reset:
        crm_delete_all()
    elif crm_data_exists():
        return DemoSummary(loaded=False, seed=seed, customers=0, counts=crm_counts())
    if parallel is None:
        parallel = customers >= PARALLEL_FROM and _parallel_possible()
    demo_users_ensure()
    staff = _staff()
    rng = DemoRandom(seed)
    pools, titles = build_pools(seed)
    fmt = TimeFormat(connection.vendor, first_day=FIRST_DAY, last_day=LAST_DAY)
    writer = Writer()
    with _bulk_mode():
        with transaction.atomic():
            team_ids = dict(Team.objects.values_list("name", "id"))
            catalogue = load_catalogue(writer, rng, fmt, support_ids=staff.support, team_ids=team_ids)
            writer.flush()
        builder = CustomerBuilder(
            rng=rng, pools=pools, titles=titles, cat=catalogue, staff=staff, writer=writer, fmt=fmt,
            ticket_number=ticket_number,
        )  # fmt: skip
        chunks = _forked_chunks(builder, writer, customers) if parallel else _chunks(builder, writer, customers)
        bar = tqdm(total=customers, unit=" customers", file=sys.stderr, disable=not progress, desc="Demo data")
        with bar:
            for size, rows in chunks:
                with _chunk_transaction():
                    for index, table_rows in rows:
                        writer.tables[index].rows = table_rows
                    writer.flush()
                bar.update(size)
        counts = {_label(table.model): table.written for table in writer.tables}
        with transaction.atomic():
            sequences_repair(writer.models())
            audit_record(
                actor=None,
                action="demo.load",
                object_type="demo",
                object_id=seed,
                object_repr=f"demo data, {customers} customers",
                changes={"customers": customers, "seed": seed, "reset": reset, **counts},
            )
    return DemoSummary(
        loaded=True,
        seed=seed,
        customers=customers,
        counts=counts,
        seconds=time.perf_counter() - started,
        reset=reset,
    )
