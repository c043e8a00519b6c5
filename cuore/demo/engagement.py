"""Generate what happens around a customer: tickets against their SLA, deals, activities and interactions.

The first few deals, tickets and interactions walk through every stage, status, priority and channel,
so even a small load shows each of them; after that the mix is random.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cuore.demo.bulk import Writer, money
from cuore.demo.catalogue import Catalogue
from cuore.demo.rand import DemoRandom
from cuore.demo.reference import DAY, LOST_REASONS, NOW
from cuore.demo.texts import (
    ACTIVITY_SUBJECTS,
    CHAT_LINES,
    DEAL_OFFERS,
    FREE_INTERACTIONS,
    FREE_WEIGHTS,
    SATISFACTION_COMMENTS,
    TICKET_DESCRIPTIONS,
    TICKET_SUBJECTS,
)
from cuore.interactions.models import Conversation, Interaction
from cuore.sales.models import Activity, Deal, DealStageChange
from cuore.service.models import Ticket

if TYPE_CHECKING:
    from cuore.demo.customers import Customer, Staff

TICKET_STATUSES = ["new", "open", "pending", "solved", "closed"]
PRIORITIES = ["low", "normal", "high", "urgent"]
PRIORITY_WEIGHTS = [25, 50, 18, 7]
TICKET_CHANNELS = ["email", "phone", "chat", "web_form", "social", "store"]
TICKET_CHANNEL_WEIGHTS = [40, 20, 15, 15, 5, 5]
DEAL_STATUSES = ["open", "won", "lost"]
ACTIVITY_KINDS = ["call", "meeting", "email", "todo"]
TODAY_START = NOW // DAY * DAY


class Engagement:
    """Queue the tickets, deals, activities, conversations and interactions of each customer."""

    def __init__(self, *, rng: DemoRandom, cat: Catalogue, staff: Staff, writer: Writer, fmt, ticket_number):
        self.rng = rng
        self.cat = cat
        self.staff = staff
        self.fmt = fmt
        self.ticket_number = ticket_number
        t = writer.table
        self.deals = t(Deal, ["id", "name", "pipeline", "stage", "amount", "currency", "expected_close", "status",
                              "lost_reason", "closed_at", "owner", "team", "contact", "account", "created_at",
                              "updated_at"])  # fmt: skip
        self.changes = t(DealStageChange, ["id", "deal", "from_stage", "to_stage", "from_status", "to_status",
                                           "changed_by", "changed_at"])  # fmt: skip
        self.activities = t(Activity, ["id", "kind", "subject", "notes", "due_at", "assignee", "team", "done",
                                       "done_at", "contact", "account", "deal", "created_at", "updated_at"])  # fmt: skip
        self.tickets = t(Ticket, ["id", "number", "contact", "account", "subject", "description", "channel", "status",
                                  "priority", "category", "queue", "assignee", "first_response_due", "resolution_due",
                                  "first_response_at", "solved_at", "closed_at", "first_response_breached",
                                  "resolution_breached", "satisfaction_rating", "satisfaction_comment", "created_at",
                                  "updated_at"])  # fmt: skip
        self.conversations = t(Conversation, ["id", "subject", "channel", "contact", "started_at", "last_at"])
        self.interactions = t(Interaction, ["id", "channel", "direction", "occurred_at", "contact", "account", "user",
                                            "subject", "body", "conversation", "ticket", "deal", "order", "source",
                                            "external_id", "created_at"])  # fmt: skip
        self.stages = [stage for pipeline in cat.pipelines for stage in pipeline]
        self.deals_made = 0
        self.tickets_made = 0
        self.free_made = 0
        self.open_activities = 0

    def customer(self, c: Customer) -> None:
        rand = self.rng.random
        self._order_touches(c)
        chance = 0.2 if c.account is not None else (0.1 if c.orders else 0.03)
        if rand() < chance:
            self._ticket(c)
            if rand() < 0.2:
                self._ticket(c)
        status = self._deal_wanted(c)
        if status is not None:
            self._deal(c, status)
        elif c.stage in ("lead", "qualified", "subscriber") and rand() < 0.05:
            self._follow_up(c)
        self._free_touches(c)

    # ---- interactions --------------------------------------------------------------------------------------

    def _touch(self, c: Customer, channel: str, direction: str, when: int, user, subject: str, *, body: str = "",
               conversation=None, ticket=None, deal=None, order=None, source: str = "") -> int:  # fmt: skip
        table = self.interactions
        interaction_id = table.take_id()
        external = f"{source}-{interaction_id}" if source else ""
        stamp = self.fmt(when)
        account = c.account.id if c.account is not None else None
        table.add((interaction_id, channel, direction, stamp, c.id, account, user, subject[:200], body, conversation,
                   ticket, deal, order, source, external, stamp))  # fmt: skip
        return interaction_id

    def _order_touches(self, c: Customer) -> None:
        rand = self.rng.random
        italian = c.language == "it"
        for order_id, placed, number, _status, channel in c.orders:
            if channel in ("web", "marketplace"):
                if rand() < 0.5:
                    subject = f"Conferma ordine {number}" if italian else f"Order confirmation {number}"
                    self._touch(c, "email", "out", placed + 120, None, subject, order=order_id, source="webshop")
            elif channel == "store":
                if rand() < 0.4:
                    subject = f"Acquisto in negozio {number}" if italian else f"In-store purchase {number}"
                    self._touch(c, "store", "in", placed, c.owner, subject, order=order_id)
            elif channel == "phone":
                subject = f"Ordine telefonico {number}" if italian else f"Phone order {number}"
                self._touch(c, "phone", "in", placed, c.owner, subject, order=order_id)
            elif rand() < 0.5:
                subject = f"Conferma d'ordine {number}" if italian else f"Order acknowledgement {number}"
                self._touch(c, "email", "out", placed + 1800, c.owner, subject, order=order_id)

    def _free_touches(self, c: Customer) -> None:
        rng = self.rng
        count = rng.weighted(range(7), [10, 20, 22, 18, 13, 9, 8])
        italian = c.language == "it"
        for _ in range(count):
            if self.free_made < len(FREE_INTERACTIONS):
                spec = FREE_INTERACTIONS[self.free_made]
            else:
                spec = rng.weighted(FREE_INTERACTIONS, FREE_WEIGHTS)
            self.free_made += 1
            channel, direction, subject_it, subject_en, source = spec
            subject = subject_it if italian else subject_en
            when = c.created + rng.below(max(1, NOW - c.created))
            automated = source in ("newsletter", "sms_gateway")
            user = self.staff.marketing if automated else c.owner
            if channel == "chat":
                lines = CHAT_LINES[c.language]
                conversation = self._conversation(c, subject, "chat", when, when + 240)
                for step, line in enumerate(lines):
                    direction = "in" if step % 2 == 0 else "out"
                    self._touch(c, "chat", direction, when + 120 * step, None if direction == "in" else user,
                                subject, body=line, conversation=conversation, source=source)  # fmt: skip
                continue
            self._touch(c, channel, direction, when, user, subject, source=source)

    def _conversation(self, c: Customer, subject: str, channel: str, started: int, last: int) -> int:
        conversation_id = self.conversations.take_id()
        self.conversations.add((conversation_id, subject[:200], channel, c.id, self.fmt(started), self.fmt(last)))
        return conversation_id

    # ---- tickets -------------------------------------------------------------------------------------------

    def _ticket(self, c: Customer) -> None:
        rng = self.rng
        rand = rng.random
        fmt = self.fmt
        coverage = self.tickets_made
        self.tickets_made += 1
        options = TICKET_SUBJECTS if c.orders else [spec for spec in TICKET_SUBJECTS if not spec[3]]
        category, subject_it, subject_en, needs_order = rng.pick(options)
        order = rng.pick(c.orders) if needs_order else None
        if order is not None:
            created = min(order[1] + rng.between(DAY // 2, 20 * DAY), NOW - 900)
        else:
            created = c.created + rng.below(max(1, NOW - c.created - 900))
        subject = (subject_it if c.language == "it" else subject_en).format(order=order[2] if order else "")
        template = rng.pick(TICKET_DESCRIPTIONS[c.language])
        description = template.format(subject_lower=subject[0].lower() + subject[1:])
        age = NOW - created
        if coverage < len(TICKET_STATUSES) * len(PRIORITIES):
            status = TICKET_STATUSES[coverage % len(TICKET_STATUSES)]
            priority = PRIORITIES[coverage // len(TICKET_STATUSES)]
        else:
            priority = rng.weighted(PRIORITIES, PRIORITY_WEIGHTS)
            if age > 30 * DAY:
                status = rng.weighted(TICKET_STATUSES, [0, 2, 3, 20, 75])
            elif age > 7 * DAY:
                status = rng.weighted(TICKET_STATUSES, [3, 10, 12, 45, 30])
            else:
                status = rng.weighted(TICKET_STATUSES, [20, 35, 20, 25, 0])
        channel = rng.weighted(TICKET_CHANNELS, TICKET_CHANNEL_WEIGHTS)
        if c.account is not None:
            queue_name = "Clienti business"
        elif category == "Resi":
            queue_name = "Resi e rimborsi"
        else:
            queue_name = "Assistenza clienti"
        queue_id, targets = self.cat.queues[queue_name]
        first_minutes, resolution_minutes = targets[priority]
        first_due = created + first_minutes * 60
        resolution_due = created + resolution_minutes * 60
        responded = solved = closed = None
        if status != "new":
            responded = min(created + 60 + int(first_minutes * 60 * rng.lognormvariate(-0.35, 0.75)), NOW)
        if status in ("solved", "closed"):
            solved = min(max(responded, created + int(resolution_minutes * 60 * rng.lognormvariate(-0.5, 0.7))), NOW)
        if status == "closed":
            closed = min(solved + rng.between(DAY, 7 * DAY), NOW)
        # The same rule as the service's clock: a running clock is measured against the data's "now".
        first_breached = (responded or NOW) > first_due
        resolution_breached = (solved or NOW) > resolution_due
        rating = comment = None
        if solved is not None and rand() < 0.4:
            weights = [20, 25, 25, 20, 10] if (first_breached or resolution_breached) else [3, 5, 17, 35, 40]
            rating = rng.weighted([1, 2, 3, 4, 5], weights)
            comment = SATISFACTION_COMMENTS[c.language][rating] if rand() < 0.5 else ""
        assignee = None if status == "new" and rand() < 0.6 else rng.pick(self.staff.support)
        ticket_id = self.tickets.take_id()
        updated = max(value for value in (created, responded, solved, closed) if value is not None)
        account = c.account.id if c.account is not None else None
        self.tickets.add((ticket_id, self.ticket_number(ticket_id), c.id, account, subject[:200], description, channel,
                          status, priority, category, queue_id, assignee, fmt(first_due), fmt(resolution_due),
                          fmt(responded), fmt(solved), fmt(closed), first_breached, resolution_breached, rating,
                          comment or "", fmt(created), fmt(updated)))  # fmt: skip

        # The thread: the request, the first answer, the solution.
        conversation = self._conversation(c, subject, channel, created, updated)
        order_id = order[0] if order else None
        self._touch(c, channel, "in", created, None, subject, body=description, conversation=conversation,
                    ticket=ticket_id, order=order_id)  # fmt: skip
        reply_channel = channel if channel in ("email", "phone", "chat") else "email"
        italian = c.language == "it"
        if responded is not None:
            reply = f"Re: {subject}"
            body = (f"Gentile {c.first.text}, grazie per averci scritto: ce ne stiamo occupando." if italian
                    else f"Dear {c.first.text}, thank you for writing to us: we are on it.")  # fmt: skip
            self._touch(c, reply_channel, "out", responded, assignee, reply, body=body, conversation=conversation,
                        ticket=ticket_id)  # fmt: skip
        if solved is not None:
            body = "Il problema è stato risolto." if italian else "The issue has been solved."
            self._touch(c, reply_channel, "out", solved, assignee, f"Re: {subject}", body=body,
                        conversation=conversation, ticket=ticket_id)  # fmt: skip

    # ---- deals and activities ------------------------------------------------------------------------------

    def _deal_wanted(self, c: Customer) -> str | None:
        rand = self.rng.random
        if c.stage == "opportunity":
            return "open"
        if c.stage == "qualified" and rand() < 0.3:
            return "open"
        if c.account is not None and rand() < 0.3:
            return self.rng.weighted(DEAL_STATUSES, [25, 45, 30])
        if c.orders and c.spend > 1.8 and rand() < 0.05:
            return "won"
        if c.stage == "lead" and rand() < 0.05:
            return "lost"
        return None

    def _deal(self, c: Customer, status: str) -> None:
        rng = self.rng
        fmt = self.fmt
        coverage = self.deals_made
        self.deals_made += 1
        if coverage < len(self.stages):
            stage = self.stages[coverage]
            status = DEAL_STATUSES[coverage % len(DEAL_STATUSES)]
            pipeline = next(stages for stages in self.cat.pipelines if stage in stages)
        else:
            pipeline = self.cat.pipelines[0 if rng.random() < 0.85 else 1]
            if status == "won":
                stage = pipeline[-1]
            elif status == "open" and c.stage == "opportunity":
                stage = rng.pick(pipeline[1:])
            else:
                stage = rng.pick(pipeline)
        if status == "open":
            created = min(max(c.created, NOW - rng.between(5 * DAY, 180 * DAY)), NOW - 3600)
            end = created + (NOW - created) * 4 // 5
            closed = None
            expected = self.fmt.date(NOW + rng.between(-20 * DAY, 120 * DAY))
        else:
            created = c.created + rng.below(max(1, NOW - c.created - 10 * DAY))
            closed = min(created + rng.between(10 * DAY, 120 * DAY), NOW - 3600)
            end = closed
            expected = self.fmt.date(closed)
        italian = c.language == "it"
        offer = rng.pick(DEAL_OFFERS[c.language])
        who = c.account.name if c.account is not None else f"{c.first.text} {c.last.text}"
        if c.account is not None:
            amount = int(rng.lognormvariate(9.4, 0.9)) * 100
        else:
            amount = int(rng.lognormvariate(6.8, 0.6)) * 100
        lost_reason = rng.pick(LOST_REASONS[c.language]) if status == "lost" else ""
        deal_id = self.deals.take_id()
        account = c.account.id if c.account is not None else None
        self.deals.add((deal_id, f"{who} – {offer}", stage.pipeline_id, stage.id, money(amount), "EUR", expected,
                        status, lost_reason, fmt(closed), c.owner, c.team, c.id, account, fmt(created),
                        fmt(end)))  # fmt: skip

        # History: created in the first stage, moved stage by stage, then won or lost.
        path = pipeline[: stage.position]
        moves = len(path) + (0 if status == "open" else 1)
        step = max(1, (end - created) // max(1, moves))
        previous = None
        when = created
        for index, reached in enumerate(path):
            when = created + step * index
            self.changes.add((self.changes.take_id(), deal_id, previous.id if previous else None, reached.id,
                              "open" if previous else "", "open", c.owner, fmt(when)))  # fmt: skip
            previous = reached
        if status != "open":
            self.changes.add((self.changes.take_id(), deal_id, stage.id, stage.id, "open", status, c.owner,
                              fmt(closed)))  # fmt: skip

        # Touches and tasks along the way.
        for index in range(rng.between(1, 3 + 1)):
            channel = rng.pick(["meeting", "phone", "email"])
            subject = f"{offer}: {'incontro' if italian else 'meeting'}" if channel == "meeting" else offer
            self._touch(c, channel, "out", created + (end - created) * (index + 1) // 4, c.owner, subject,
                        deal=deal_id)  # fmt: skip
        kind = rng.pick(ACTIVITY_KINDS)
        done_due = created + (end - created) // 3
        self._activity(c, kind, done_due, done=True, deal=deal_id)
        if status == "open":
            self._activity(c, rng.pick(ACTIVITY_KINDS), self._open_due(), done=False, deal=deal_id)

    def _open_due(self) -> int:
        """Return when an open task is due: overdue, today or later (the first three walk through all of them)."""
        rng = self.rng
        which = self.open_activities if self.open_activities < 3 else rng.weighted([0, 1, 2], [25, 15, 60])
        self.open_activities += 1
        if which == 0:
            return NOW - rng.between(DAY, 20 * DAY)
        if which == 1:
            return TODAY_START + rng.between(8 * 3600, 20 * 3600)
        return TODAY_START + rng.between(1, 30) * DAY + rng.between(8 * 3600, 18 * 3600)

    def _follow_up(self, c: Customer) -> None:
        done = self.rng.random() < 0.5
        due = c.created + self.rng.below(max(1, NOW - c.created)) if done else self._open_due()
        self._activity(c, "call", due, done=done, deal=None)

    def _activity(self, c: Customer, kind: str, due: int, *, done: bool, deal) -> None:
        fmt = self.fmt
        done_at = min(due + self.rng.between(0, 2 * DAY), NOW) if done else None
        created = min(due - self.rng.between(DAY, 10 * DAY), NOW - 3600)
        created = max(created, c.created)
        subject = ACTIVITY_SUBJECTS[kind][c.language]
        account = c.account.id if c.account is not None else None
        self.activities.add((self.activities.take_id(), kind, subject, "", fmt(due), c.owner, c.team, done,
                             fmt(done_at), c.id, account, deal, fmt(created), fmt(done_at or created)))  # fmt: skip
