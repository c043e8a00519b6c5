"""Generate customers chunk by chunk: accounts, contacts, their points, addresses, consents and orders.

Each buyer follows the process the lifetime-value models assume (BG/NBD with a Gamma-Gamma spend):
a latent purchase rate drawn from a Gamma, a chance to stop buying after every purchase drawn from a
Beta, and a spend level of their own. Orders are thinned by a monthly seasonality, so analytics find
peaks in November and December, a summer dip, churned customers and loyal ones.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from dataclasses import dataclass, field

from cuore.contacts.models import Account, Address, ConsentEvent, Contact, ContactAccount, ContactPoint
from cuore.core.normalize import italian_vat_check_digit, text_key
from cuore.demo.bulk import Writer, money
from cuore.demo.catalogue import Catalogue
from cuore.demo.engagement import Engagement
from cuore.demo.pools import CountryPool, Name
from cuore.demo.rand import DemoRandom
from cuore.demo.reference import (
    CARRIERS,
    COMPANY_SIZES,
    DAY,
    EMAIL_DOMAINS,
    ENGLISH_SECTORS,
    HISTORY_START,
    INDUSTRIES,
    ITALIAN_CITIES,
    ITALIAN_MOBILE_PREFIXES,
    ITALIAN_SECTORS,
    ITALIAN_TITLES,
    MONTH_SEASON,
    NOW,
    SOCIAL_NETWORKS,
    SOURCES,
    UK_CITIES,
    US_CITIES,
    WEB_SUFFIX,
)
from cuore.demo.texts import CONSENT_SOURCES, RETURN_REASONS
from cuore.orders.models import Order, OrderLine, Return, ReturnLine, Shipment

YEAR = 365.25 * DAY
SEASON_MAX = max(MONTH_SEASON)
COUNTRIES = ["IT", "GB", "US"]
COUNTRY_CUM = [70, 85, 100]


@dataclass
class Staff:
    """The demo users the data is owned by and assigned to."""

    sales: dict[str, tuple[int, int]]  # team name -> (sales user id, team id)
    support: list[int]
    marketing: int | None


@dataclass
class Place:
    country: str
    city: str
    province: str
    postcode: str
    area: str
    zone: str


@dataclass
class AccountInfo:
    id: int
    name: str
    country: str
    domain: str
    owner: int
    team: int
    contacts: int = 0


@dataclass
class Customer:
    """What the later steps need to know about the contact just generated."""

    id: int
    first: Name
    last: Name
    country: str
    language: str
    owner: int
    team: int
    created: int
    stage: str
    account: AccountInfo | None
    spend: float
    preferred: int  # index of the favourite root category
    orders: list[tuple[int, int, str, str, str]] = field(default_factory=list)  # id, placed, number, status, channel


class CustomerBuilder:
    """Generate and queue every row of one customer after another; the writer inserts them in chunks."""

    def __init__(self, *, rng: DemoRandom, pools: dict[str, CountryPool], titles: list[str], cat: Catalogue,
                 staff: Staff, writer: Writer, fmt, ticket_number):  # fmt: skip
        self.rng = rng
        self.pools = pools
        self.titles = titles
        self.cat = cat
        self.staff = staff
        self.fmt = fmt
        t = writer.table
        self.accounts = t(Account, ["id", "name", "name_key", "legal_name", "vat_number", "tax_code", "industry",
                                    "size", "website", "email", "phone", "owner", "team", "created_at", "updated_at"])  # fmt: skip
        self.account_tags = t(Account.tags.through, ["id", "account", "tag"])
        self.contacts = t(Contact, ["id", "first_name", "last_name", "first_name_key", "last_name_key", "title",
                                    "language", "birth_date", "lifecycle_stage", "source", "owner", "team",
                                    "created_at", "updated_at"])  # fmt: skip
        self.contact_tags = t(Contact.tags.through, ["id", "contact", "tag"])
        self.links = t(ContactAccount, ["id", "contact", "account", "role", "is_primary"])
        self.points = t(ContactPoint, ["id", "contact", "kind", "value", "value_normalized", "label", "is_primary",
                                       "is_verified", "created_at"])  # fmt: skip
        self.addresses = t(Address, ["id", "contact", "account", "kind", "line1", "line2", "postal_code", "city",
                                     "province", "country", "is_primary"])  # fmt: skip
        self.consents = t(ConsentEvent, ["id", "contact", "purpose", "channel", "status", "source", "proof",
                                         "occurred_at", "recorded_by", "created_at"])  # fmt: skip
        self.orders = t(Order, ["id", "number", "contact", "account", "channel", "placed_at", "status", "currency",
                                "subtotal", "discount_total", "total", "cost_total", "notes", "created_at",
                                "updated_at"])  # fmt: skip
        self.lines = t(OrderLine, ["id", "order", "product", "quantity", "unit_price", "discount", "unit_cost",
                                   "line_total"])  # fmt: skip
        self.shipments = t(Shipment, ["id", "order", "carrier", "tracking_number", "shipped_at", "delivered_at"])
        self.returns = t(Return, ["id", "order", "reason", "status", "refund_amount", "created_at"])
        self.return_lines = t(ReturnLine, ["id", "order_return", "order_line", "quantity"])
        self.engagement = Engagement(rng=rng, cat=cat, staff=staff, writer=writer, fmt=fmt, ticket_number=ticket_number)
        self.customers_done = 0
        self.withdrawals = 0
        first_day = (HISTORY_START - 800 * DAY) // DAY
        self.first_day = first_day
        last_day = NOW // DAY + 1
        self.month_of_day = [
            (dt.date(1970, 1, 1) + dt.timedelta(days=day)).month - 1 for day in range(first_day, last_day + 1)
        ]
        self.it_cities_cum = list(itertools.accumulate(city[-1] for city in ITALIAN_CITIES))
        self.uk_cities_cum = list(itertools.accumulate(city[-1] for city in UK_CITIES))
        self.us_cities_cum = list(itertools.accumulate(city[-1] for city in US_CITIES))
        self.sources_cum = list(itertools.accumulate(weight for _name, weight in SOURCES))
        self.sizes_cum = list(itertools.accumulate(weight for _size, weight in COMPANY_SIZES))

    # ---- small helpers -------------------------------------------------------------------------------------

    def _month(self, seconds: int) -> int:
        return self.month_of_day[seconds // DAY - self.first_day]

    def _pick(self, values, cum):
        return values[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def _place(self, country: str) -> Place:
        rng = self.rng
        if country == "IT":
            city, province, cap, caps, area, zone, _w = self._pick(ITALIAN_CITIES, self.it_cities_cum)
            return Place("IT", city, province, f"{cap + rng.below(caps):05d}", area, zone)
        if country == "GB":
            city, region, area, _w = self._pick(UK_CITIES, self.uk_cities_cum)
            return Place("GB", city, region, rng.pick(self.pools["GB"].postcodes[city]), area, "International")
        city, state, area, _w = self._pick(US_CITIES, self.us_cities_cum)
        return Place("US", city, state, rng.pick(self.pools["US"].postcodes[city]), area, "International")

    def _street(self, place: Place) -> str:
        street = self.rng.pick(self.pools[place.country].streets)
        number = self.rng.between(1, 220 + 1)
        return f"{street}, {number}" if place.country == "IT" else f"{number} {street}"

    def _phone(self, place: Place, mobile: bool) -> tuple[str, str]:
        """Return a phone number as a person would type it (abroad with the country code) and in E.164."""
        rng = self.rng
        if place.country == "IT":
            if mobile:
                prefix = rng.pick(ITALIAN_MOBILE_PREFIXES)
                rest = f"{rng.below(10**7):07d}"
                return f"{prefix} {rest[:3]} {rest[3:]}", f"+39{prefix}{rest}"
            digits = 10 - len(place.area)
            rest = f"{rng.between(2 * 10 ** (digits - 1), 10**digits)}"
            return f"{place.area} {rest}", f"+39{place.area}{rest}"
        if place.country == "GB":
            if mobile:
                rest = f"7{rng.between(100, 999)}{rng.below(10**6):06d}"
                return f"+44 {rest[:4]} {rest[4:]}", f"+44{rest}"
            digits = 10 - len(place.area)
            rest = f"{rng.between(2 * 10 ** (digits - 1), 10**digits)}"
            return f"+44 {place.area} {rest}", f"+44{place.area}{rest}"
        exchange = rng.between(200, 1000)
        line = rng.below(10**4)
        return f"+1 ({place.area}) {exchange}-{line:04d}", f"+1{place.area}{exchange}{line:04d}"

    # ---- accounts ------------------------------------------------------------------------------------------

    def make_accounts(self, count: int) -> list[AccountInfo]:
        rng = self.rng
        made = []
        for _ in range(count):
            account_id = self.accounts.take_id()
            country = COUNTRIES[bisect.bisect_right(COUNTRY_CUM, rng.below(100))]
            place = self._place(country)
            pool = self.pools[country]
            last, other = rng.pick(pool.last).text, rng.pick(pool.last).text
            if country == "IT":
                sector = rng.pick(ITALIAN_SECTORS)
                name, form = rng.pick(
                    [(f"{last} {sector}", "S.r.l."), (f"{last} & {other}", "S.n.c."), (f"{sector} {last}", "S.p.A."),
                     (f"{last} {sector}", "S.r.l.s.")]
                )  # fmt: skip
                first_ten = f"{rng.below(10**7):07d}{rng.between(1, 100 + 1):03d}"
                digits = first_ten + italian_vat_check_digit(first_ten)
                vat, tax_code = f"IT{digits}", digits
            else:
                sector = rng.pick(ENGLISH_SECTORS)
                name, form = rng.pick(
                    [(f"{last} {sector}", "Ltd" if country == "GB" else "LLC"), (f"{last} & {other}", "Ltd"
                     if country == "GB" else "Inc."), (f"{sector} {last} Group", "plc" if country == "GB" else "Corp.")]
                )  # fmt: skip
                if country == "GB":
                    vat, tax_code = f"GB{rng.between(10**8, 10**9)}", ""
                else:
                    vat, tax_code = "", f"{rng.between(10, 99)}-{rng.between(10**6, 10**7)}"
            key = text_key(name)
            domain = f"{key.replace(' ', '')[:24]}.{WEB_SUFFIX[country]}"
            owner, team = self.staff.sales[place.zone]
            created = HISTORY_START - 400 * DAY + rng.below(400 * DAY + (NOW - HISTORY_START) * 3 // 4)
            updated = created + rng.below(NOW - created)
            _display, phone = self._phone(place, mobile=False)
            size = self._pick(COMPANY_SIZES, self.sizes_cum)[0]
            self.accounts.add(
                (account_id, name, key, f"{name} {form}", vat, tax_code, rng.pick(INDUSTRIES), size,
                 f"https://www.{domain}", f"info@{domain}", phone, owner, team, self.fmt(created), self.fmt(updated))
            )  # fmt: skip
            self.addresses.add(
                (self.addresses.take_id(), None, account_id, "registered" if country == "IT" else "billing",
                 self._street(place), "", place.postcode, place.city, place.province, country, True)
            )  # fmt: skip
            tags = {"B2B"}
            if rng.random() < 0.2:
                tags.add("Rivenditore")
            if rng.random() < 0.1:
                tags.add("Partner")
            if country != "IT":
                tags.add("Export")
            for tag in sorted(tags):
                self.account_tags.add((self.account_tags.take_id(), account_id, self.cat.tag_ids[tag]))
            made.append(AccountInfo(account_id, name, country, domain, owner, team))
        return made

    # ---- one customer --------------------------------------------------------------------------------------

    def make_customer(self, accounts: list[AccountInfo]) -> None:
        rng = self.rng
        rand = rng.random
        account = rng.pick(accounts) if accounts and rand() < 0.12 else None
        if account is not None:
            country = account.country
            account.contacts += 1
        else:
            country = COUNTRIES[bisect.bisect_right(COUNTRY_CUM, rng.below(100))]
        pool = self.pools[country]
        female = rand() < 0.5
        first = rng.pick(pool.female if female else pool.male)
        last = rng.pick(pool.last)
        place = self._place(country)
        if account is not None:
            owner, team = account.owner, account.team
        else:
            owner, team = self.staff.sales[place.zone]
        language = "it" if country == "IT" else "en"
        source = self._pick(SOURCES, self.sources_cum)[0]
        contact_id = self.contacts.take_id()

        # Behaviour: who buys, how often, for how long, how much.
        buys = rand() < (0.85 if account else 0.62)
        span = NOW - HISTORY_START
        spend = rng.gammavariate(4.0, 0.25)
        times: list[int] = []
        if buys:
            # More customers arrive as the business grows, and more of them in the busy months.
            while True:
                first_order = HISTORY_START + int(span * rand() ** 0.8)
                if rand() * SEASON_MAX < MONTH_SEASON[self._month(first_order)]:
                    break
            created = max(HISTORY_START - 30 * DAY, first_order - int(rand() * 30 * DAY))
            times = self._purchase_times(first_order, business=account is not None)
            stage = "former_customer" if NOW - times[-1] > 365 * DAY else "customer"
        else:
            created = HISTORY_START + rng.below(span - DAY)
            stage = rng.weighted(["subscriber", "lead", "qualified", "opportunity"], [35, 35, 15, 15])
        touched = max(times[-1], created) if times else created + rng.below(NOW - created)
        title = ""
        if account is not None:
            title = rng.pick(ITALIAN_TITLES) if country == "IT" else rng.pick(self.titles)
        birth = None
        if rand() < 0.4:
            birth = self.fmt.date(NOW - rng.between(18 * 365, 80 * 365) * DAY)
        self.contacts.add(
            (contact_id, first.text, last.text, first.key, last.key, title, language, birth, stage, source, owner,
             team, self.fmt(created), self.fmt(touched))
        )  # fmt: skip
        if account is not None:
            self.links.add((self.links.take_id(), contact_id, account.id, title, True))
        preferred = rng.below(len(self.cat.products))
        customer = Customer(
            contact_id, first, last, country, language, owner, team, created, stage, account, spend, preferred
        )

        has_phone = self._points(customer, place, source)
        if rand() < 0.6:
            kind = "work" if account else "home"
            self.addresses.add(
                (self.addresses.take_id(), contact_id, None, kind, self._street(place), "", place.postcode,
                 place.city, place.province, country, True)
            )  # fmt: skip
            if rand() < 0.15:
                other = self._place(country)
                self.addresses.add(
                    (self.addresses.take_id(), contact_id, None, "shipping", self._street(other), "", other.postcode,
                     other.city, other.province, country, False)
                )  # fmt: skip
        newsletter = self._consents(customer, source, has_phone)
        for placed in times:
            self._order(customer, placed)
        self._tags(customer, newsletter)
        self.engagement.customer(customer)
        self.customers_done += 1

    def _purchase_times(self, first_order: int, *, business: bool) -> list[int]:
        rng = self.rng
        rand = rng.random
        rate = max(0.15, rng.gammavariate(0.9, 3.0)) * (2.0 if business else 1.0)
        dropout = rng.betavariate(1.2, 4.0)
        per_second = rate * SEASON_MAX / YEAR
        times = [first_order]
        placed = first_order
        cap = 150 if business else 60
        month_of_day, first_day = self.month_of_day, self.first_day
        while len(times) < cap and rand() >= dropout:
            while True:
                placed += int(rng.expovariate(per_second)) + 3600
                if placed >= NOW:
                    return times
                if rand() * SEASON_MAX < MONTH_SEASON[month_of_day[placed // DAY - first_day]]:
                    break
            times.append(placed)
        return times

    def _points(self, customer: Customer, place: Place, source: str) -> bool:
        rng = self.rng
        rand = rng.random
        contact_id, created = customer.id, self.fmt(customer.created)
        points = self.points
        first, last = customer.first.mail, customer.last.mail
        domain = rng.pick(EMAIL_DOMAINS[customer.country])
        style = rng.below(4)
        if style == 0:
            local = f"{first}.{last}"
        elif style == 1:
            local = f"{first}{last}{rng.between(1, 99)}"
        elif style == 2:
            local = f"{first[0]}{last}"
        else:
            local = f"{last}.{first}{rng.between(60, 100):02d}"
        personal = f"{local}@{domain}"
        emails = [personal]
        if customer.account is not None:
            emails.insert(0, f"{first}.{last}@{customer.account.domain}")
            if rand() > 0.3:
                emails.pop()
        elif rand() < 0.15:
            emails.append(f"{first}.{last}{rng.between(1, 999)}@{rng.pick(EMAIL_DOMAINS[customer.country])}")
        seen = set()
        for index, email in enumerate(emails):
            if email in seen:
                continue
            seen.add(email)
            typed = email.capitalize() if rand() < 0.1 else email
            points.add((points.take_id(), contact_id, "email", typed, email, "", index == 0, rand() < 0.6, created))
        has_phone = rand() < 0.7
        if has_phone:
            mobile = rand() < (0.5 if customer.account else 0.85)
            typed, normalized = self._phone(place, mobile)
            if rand() < 0.3:
                typed = normalized
            points.add((points.take_id(), contact_id, "mobile" if mobile else "phone", typed, normalized, "", True,
                        rand() < 0.5, created))  # fmt: skip
            if rand() < 0.1:
                typed, other = self._phone(place, not mobile)
                if other != normalized:
                    points.add((points.take_id(), contact_id, "phone" if mobile else "mobile", typed, other, "",
                                True, False, created))  # fmt: skip
        if rand() < 0.15:
            network = rng.pick(SOCIAL_NETWORKS)
            handle = f"{first}.{last}{rng.between(1, 100)}" if rand() < 0.6 else f"{first}_{last}"
            points.add((points.take_id(), contact_id, "social", f"@{handle}", handle, network, True, False, created))
        if source == "webshop" or rand() < 0.25:
            points.add((points.take_id(), contact_id, "external_id", f"WS{contact_id:09d}", f"WS{contact_id:09d}",
                        "webshop", True, True, created))  # fmt: skip
        if source == "store" and rand() < 0.7:
            card = f"FID{contact_id:010d}"
            points.add((points.take_id(), contact_id, "external_id", card, card, "loyalty", True, True, created))
        return has_phone

    def _consents(self, customer: Customer, source: str, has_phone: bool) -> bool:
        """Append consent events; return whether the newsletter consent is granted at the end."""
        rng = self.rng
        rand = rng.random
        if rand() >= 0.65:
            return False
        key = source if source in CONSENT_SOURCES else "webshop"
        label_it, label_en = CONSENT_SOURCES[key]
        label = label_it if customer.language == "it" else label_en
        granted_at = customer.created + rng.below(2 * 3600)
        ip = f"93.{rng.below(256)}.{rng.below(256)}.{rng.between(1, 255)}"
        proof = f"checkbox v3, IP {ip}" if key != "store" else f"modulo firmato n. {customer.id}"
        wanted = [("marketing", "email", 0.85), ("newsletter", "email", 0.6), ("profiling", "any", 0.35),
                  ("third_party", "any", 0.1), ("marketing", "post", 0.05)]  # fmt: skip
        if has_phone:
            wanted.append(("marketing", "sms", 0.3))
        newsletter = False
        consents = self.consents
        fmt = self.fmt
        recorder = customer.owner if key == "store" else None
        for purpose, channel, chance in wanted:
            if rand() >= chance:
                continue
            when = fmt(granted_at)
            consents.add((consents.take_id(), customer.id, purpose, channel, "granted", label, proof, when, recorder,
                          when))  # fmt: skip
            state = True
            if (rand() < 0.15 or self.withdrawals == 0) and NOW - granted_at > 2 * DAY:
                self.withdrawals += 1
                withdrawn = granted_at + DAY + rng.below(NOW - granted_at - DAY)
                how = rng.pick(["unsubscribe link", "customer service request"]) if customer.language == "en" else (
                    rng.pick(["link di disiscrizione", "richiesta al servizio clienti"]))  # fmt: skip
                consents.add((consents.take_id(), customer.id, purpose, channel, "withdrawn", how, "", fmt(withdrawn),
                              None, fmt(withdrawn)))  # fmt: skip
                state = False
                if rand() < 0.1 and NOW - withdrawn > 2 * DAY:
                    again = withdrawn + DAY + rng.below(NOW - withdrawn - DAY)
                    consents.add((consents.take_id(), customer.id, purpose, channel, "granted", label, proof,
                                  fmt(again), recorder, fmt(again)))  # fmt: skip
                    state = True
            if purpose == "newsletter":
                newsletter = state
        return newsletter

    def _tags(self, customer: Customer, newsletter: bool) -> None:
        rng = self.rng
        tags = set()
        if customer.account is not None:
            tags.add("B2B")
        if newsletter:
            tags.add("Newsletter")
        if customer.spend > 1.8 and customer.orders:
            tags.add("VIP")
        if any(self._month(placed) == 10 for _id, placed, *_rest in customer.orders[-3:]):
            tags.add("Black Friday")
        if len(customer.orders) >= 8:
            tags.add("Fedeltà")
        if rng.random() < 0.04:
            tags.add(rng.pick(["Fiera Milano 2025", "Early adopter", "Prospect caldo"]))
        for tag in sorted(tags):
            self.contact_tags.add((self.contact_tags.take_id(), customer.id, self.cat.tag_ids[tag]))

    # ---- orders --------------------------------------------------------------------------------------------

    def _order(self, customer: Customer, placed: int) -> None:
        rng = self.rng
        rand = rng.random
        fmt = self.fmt
        order_id = self.orders.take_id()
        number = f"ORD-{dt.datetime.fromtimestamp(placed, dt.UTC).year}-{order_id:06d}"  # as orders.services numbers
        age = NOW - placed
        if age < DAY:
            status = "draft" if rand() < 0.1 else "confirmed"
        elif age < 3 * DAY:
            status = rng.pick(["confirmed", "fulfilled", "shipped", "shipped"])
        elif age < 10 * DAY:
            roll = rand()
            status = "shipped" if roll < 0.45 else ("delivered" if roll < 0.95 else "cancelled")
        else:
            roll = rand()
            status = "delivered" if roll < 0.925 else ("cancelled" if roll < 0.965 else "returned")
        business = customer.account is not None
        if business:
            channel = rng.weighted(["sales", "web", "phone"], [60, 30, 10])
        else:
            channel = rng.weighted(["web", "store", "marketplace", "phone"], [55, 22, 13, 10])

        # Lines: mostly the customer's favourite category, otherwise what sells this month.
        month = self._month(placed)
        count = 1 + min(4, int(rng.expovariate(1.0 / (1.2 * customer.spend))))
        promo = rng.pick([5, 10, 15, 20]) if rand() < 0.2 else 0
        chosen: set[int] = set()
        subtotal = discount_total = cost_total = 0
        lines = self.lines
        line_ids = []
        roots_cum = self.cat.root_weights_by_month[month]
        for _ in range(count):
            if rand() < 0.55:
                root = self.cat.products[customer.preferred]
            else:
                root = self.cat.products[bisect.bisect_right(roots_cum, rand() * roots_cum[-1])]
            products, popularity = rng.pick(root)
            product = products[bisect.bisect_right(popularity, rand() * popularity[-1])]
            if product.id in chosen:
                continue
            chosen.add(product.id)
            if business:
                quantity = 1 + min(49, int(rng.expovariate(0.25)))
            else:
                roll = rand()
                quantity = 1 if roll < 0.75 else (2 if roll < 0.93 else 3)
            gross = quantity * product.price
            discount = (gross * promo + 50) // 100
            line_id = lines.take_id()
            lines.add((line_id, order_id, product.id, quantity, product.price_text, money(discount),
                       product.cost_text, money(gross - discount)))  # fmt: skip
            line_ids.append((line_id, quantity, gross - discount))
            subtotal += gross
            discount_total += discount
            cost_total += quantity * product.cost
        updated = placed + rng.between(600, 7200)
        if status in ("shipped", "delivered", "returned"):
            shipped = min(placed + rng.between(DAY // 3, 2 * DAY), NOW - 600)
            delivered = None
            if status != "shipped":
                delivered = min(shipped + rng.between(DAY, 5 * DAY), NOW - 300)
            carrier = rng.pick(CARRIERS[customer.country])
            self.shipments.add((self.shipments.take_id(), order_id, carrier, f"{carrier[:2].upper()}{order_id:011d}",
                                fmt(shipped), fmt(delivered)))  # fmt: skip
            updated = delivered or shipped
            if status == "returned":
                updated = self._return(customer, order_id, delivered, line_ids, full=True)
            elif status == "delivered" and rand() < 0.01:
                self._return(customer, order_id, delivered, line_ids[:1], full=False)
        updated = min(updated, NOW)
        self.orders.add(
            (order_id, number, customer.id, customer.account.id if business else None, channel, fmt(placed), status,
             "EUR", money(subtotal), money(discount_total), money(subtotal - discount_total), money(cost_total), "",
             fmt(placed), fmt(updated))
        )  # fmt: skip
        customer.orders.append((order_id, placed, number, status, channel))

    def _return(self, customer: Customer, order_id: int, delivered: int, lines, *, full: bool) -> int:
        rng = self.rng
        created = min(delivered + rng.between(DAY, 20 * DAY), NOW - 60)
        reason = rng.pick(RETURN_REASONS[customer.language])
        return_id = self.returns.take_id()
        refund = 0
        for line_id, quantity, total in lines:
            back = quantity if full else 1
            refund += total if back == quantity else total * back // quantity
            self.return_lines.add((self.return_lines.take_id(), return_id, line_id, back))
        if full:
            status = "refunded" if NOW - created > 10 * DAY else "received"
        else:
            status = rng.pick(["requested", "received", "refunded", "rejected"])
        if status == "rejected":
            refund = 0
        self.returns.add((return_id, order_id, reason, status, money(refund), self.fmt(created)))
        return created
