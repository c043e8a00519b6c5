"""The fields each kind of import fills, with the header spellings (English and Italian) that name them.

Choice values are the values Cuore's models store (``former_customer``, ``in``/``out``, ``web_form``), so a
parsed row can go straight to the services; the spellings users write for them (labels in both languages,
and common words from other systems: "inbound", "in uscita", "evaso", "visita") are in ``choice_synonyms``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

FIELD_KINDS = ("text", "email", "phone", "date", "datetime", "decimal", "int", "bool", "country", "choice")


@dataclass(frozen=True)
class Field:
    """One target field of an import: its name, label, type and the header spellings that map to it."""

    name: str
    label: Any  # a lazy translatable string
    kind: str
    required: bool = False
    max_length: int | None = None
    choices: dict[str, Any] | None = None  # value → label
    synonyms: tuple[str, ...] = ()
    choice_synonyms: dict[str, tuple[str, ...]] | None = field(default=None, repr=False)  # value → spellings

    def __post_init__(self) -> None:
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")
        if (self.kind == "choice") != (self.choices is not None):
            raise ValueError(f"{self.name}: choices go with kind 'choice', and only with it")


# --- choices ----------------------------------------------------------------------------------------

LIFECYCLE_STAGES = {
    "subscriber": _("Subscriber"),
    "lead": _("Lead"),
    "qualified": _("Qualified"),
    "opportunity": _("Opportunity"),
    "customer": _("Customer"),
    "former_customer": _("Former customer"),
}
LIFECYCLE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "subscriber": ("subscriber", "subscribed", "iscritto", "iscritta", "iscritti", "abbonato", "abbonata"),
    "lead": ("lead", "prospect", "potenziale cliente", "contatto"),
    "qualified": ("qualified", "qualified lead", "mql", "sql", "qualificato", "qualificata", "lead qualificato"),
    "opportunity": ("opportunity", "opportunità", "trattativa", "in trattativa"),
    "customer": ("customer", "client", "cliente", "acquirente", "buyer"),
    "former_customer": (
        "former customer",
        "ex customer",
        "past customer",
        "lost customer",
        "churned",
        "ex cliente",
        "ex-cliente",
        "cliente perso",
        "vecchio cliente",
    ),
}

COMPANY_SIZES = {
    "1-9": _("1–9 employees"),
    "10-49": _("10–49 employees"),
    "50-249": _("50–249 employees"),
    "250-999": _("250–999 employees"),
    "1000+": _("1000+ employees"),
}
COMPANY_SIZE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "1-9": ("micro", "microimpresa", "1-9 dipendenti", "1–9 dipendenti"),
    "10-49": ("small", "piccola", "piccola impresa", "10-49 dipendenti", "10–49 dipendenti"),
    "50-249": ("medium", "media", "media impresa", "50-249 dipendenti", "50–249 dipendenti"),
    "250-999": ("large", "grande", "grande impresa", "250-999 dipendenti", "250–999 dipendenti"),
    "1000+": ("enterprise", "1000+ dipendenti", "oltre 1000", "more than 1000", "1000 e oltre"),
}

ORDER_STATUSES = {
    "draft": _("Draft"),
    "confirmed": _("Confirmed"),
    "fulfilled": _("Fulfilled"),
    "shipped": _("Shipped"),
    "delivered": _("Delivered"),
    "cancelled": _("Cancelled"),
    "returned": _("Returned"),
}
ORDER_STATUS_SYNONYMS: dict[str, tuple[str, ...]] = {
    "draft": ("draft", "bozza", "pending", "in attesa", "new", "nuovo"),
    "confirmed": (
        "confirmed",
        "confermato",
        "confermata",
        "paid",
        "pagato",
        "processing",
        "in lavorazione",
        "accepted",
        "accettato",
    ),
    "fulfilled": ("fulfilled", "completed", "complete", "completato", "evaso", "evasa", "chiuso", "closed"),
    "shipped": ("shipped", "sent", "spedito", "spedita", "in transito", "in transit"),
    "delivered": ("delivered", "consegnato", "consegnata", "ricevuto"),
    "cancelled": ("cancelled", "canceled", "annullato", "annullata", "cancellato", "void"),
    "returned": ("returned", "reso", "restituito", "refunded", "rimborsato"),
}

ORDER_CHANNELS = {
    "web": _("Web shop"),
    "store": _("Store"),
    "phone": _("Phone"),
    "sales": _("Sales rep"),
    "marketplace": _("Marketplace"),
}
ORDER_CHANNEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "web": ("web", "online", "e-commerce", "ecommerce", "sito", "sito web", "website", "negozio online", "shop online"),
    "store": ("store", "shop", "negozio", "punto vendita", "retail", "in store", "in negozio"),
    "phone": ("phone", "telephone", "telefono", "call center", "telefonico"),
    "sales": ("sales", "sales rep", "agent", "agente", "venditore", "commerciale", "rete vendita"),
    "marketplace": ("marketplace", "amazon", "ebay"),
}

INTERACTION_CHANNELS = {
    "email": _("Email"),
    "phone": _("Phone"),
    "sms": _("SMS"),
    "chat": _("Chat"),
    "social": _("Social"),
    "web_form": _("Web form"),
    "meeting": _("Meeting"),
    "store": _("Store"),
    "letter": _("Letter"),
    "note": _("Internal note"),
}
INTERACTION_CHANNEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail", "posta elettronica"),
    "phone": ("phone", "call", "phone call", "telefono", "telefonata", "chiamata", "tel"),
    "sms": ("sms", "text", "text message", "messaggio"),
    "chat": ("chat", "live chat", "whatsapp", "messenger", "telegram"),
    "social": ("social", "social network", "facebook", "instagram", "linkedin", "twitter", "tiktok"),
    "web_form": ("form", "web form", "web", "website", "sito", "sito web", "modulo", "modulo web", "modulo contatti"),
    "meeting": ("meeting", "visit", "visita", "incontro", "riunione", "appuntamento", "video call", "videochiamata"),
    "store": ("store", "shop", "negozio", "punto vendita", "in store", "in negozio", "visita in negozio"),
    "letter": ("letter", "lettera", "posta", "posta cartacea", "raccomandata"),
    "note": ("note", "nota", "internal note", "nota interna", "other", "altro"),
}

DIRECTIONS = {"in": _("Inbound"), "out": _("Outbound")}
DIRECTION_SYNONYMS: dict[str, tuple[str, ...]] = {
    "in": ("in", "inbound", "incoming", "received", "in entrata", "entrata", "in arrivo", "ricevuto", "ricevuta"),
    "out": ("out", "outbound", "outgoing", "sent", "in uscita", "uscita", "inviato", "inviata", "effettuata"),
}

# The languages a contact may prefer; every spelling babel knows in English and Italian maps to the code.
LANGUAGE_CODES = (
    "it", "en", "de", "fr", "es", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "sk", "sl", "hr", "sr", "hu",
    "ro", "bg", "el", "tr", "ru", "uk", "sq", "ar", "he", "hi", "zh", "ja", "ko", "ca", "et", "lv", "lt",
)  # fmt: skip


@functools.cache
def language_choices() -> dict[str, str]:
    """Return code → English name for ``LANGUAGE_CODES``."""
    from babel import Locale

    english = Locale("en")
    return {code: english.languages.get(code, code) for code in LANGUAGE_CODES}


@functools.cache
def language_synonyms() -> dict[str, tuple[str, ...]]:
    """Return code → its names in English and Italian ("Italian", "italiano")."""
    from babel import Locale

    italian = Locale("it")
    return {code: (italian.languages.get(code, code),) for code in LANGUAGE_CODES}


@functools.cache
def currency_choices() -> dict[str, str]:
    """Return ISO 4217 code → code, for every currency babel knows."""
    from babel.numbers import list_currencies

    return {code: code for code in sorted(list_currencies())}


@functools.cache
def currency_synonyms() -> dict[str, tuple[str, ...]]:
    """Return code → its names in English and Italian, and for the common ones their symbols: EUR → euro, €."""
    from babel.numbers import get_currency_name

    # A symbol shared by several currencies ("$", "kr") would name one of them at random: only these.
    symbols = {"EUR": ("€", "euros"), "USD": ("$", "us$", "dollaro", "dollari"), "GBP": ("£", "sterlina")}
    return {
        code: (*sorted({get_currency_name(code, locale=lang) for lang in ("en", "it")}), *symbols.get(code, ()))
        for code in currency_choices()
    }


# --- the fields -------------------------------------------------------------------------------------


def _source_id(*extra: str, label: Any = None, required: bool = True) -> Field:
    """The row's id in the system it comes from: what a second import of the same file matches on."""
    return Field(
        "source_id",
        _("ID") if label is None else label,
        "text",
        required=required,
        max_length=128,
        synonyms=("id", "source id", "external id", "id esterno", "codice esterno", *extra),
    )


def _address() -> tuple[Field, ...]:
    return (
        Field(
            "line1",
            _("Address"),
            "text",
            max_length=200,
            synonyms=(
                "address",
                "address 1",
                "address line 1",
                "street",
                "street address",
                "line1",
                "indirizzo",
                "indirizzo 1",
                "indirizzo riga 1",
                "via",
                "via e numero civico",
            ),
        ),
        Field(
            "line2",
            _("Address line 2"),
            "text",
            max_length=200,
            synonyms=("address 2", "address line 2", "line2", "indirizzo 2", "indirizzo riga 2", "presso", "c/o"),
        ),
        Field(
            "postal_code",
            _("Postal code"),
            "text",
            max_length=16,
            synonyms=("postal code", "postcode", "post code", "zip", "zip code", "cap", "c.a.p.", "codice postale"),
        ),
        Field(
            "city",
            _("City"),
            "text",
            max_length=100,
            synonyms=("city", "town", "suburb", "città", "comune", "località", "citta"),
        ),
        Field(
            "province",
            _("Province / state"),
            "text",
            max_length=100,
            synonyms=("province", "state", "county", "state province", "provincia", "prov", "prov.", "sigla provincia"),
        ),
        Field(
            "country",
            _("Country"),
            "country",
            synonyms=("country", "nation", "country code", "nazione", "paese", "codice paese", "codice nazione"),
        ),
    )


_EMAIL_SYNONYMS = (
    "email",
    "e-mail",
    "mail",
    "email address",
    "e-mail address",
    "posta elettronica",
    "indirizzo email",
    "indirizzo e-mail",
    "indirizzo di posta elettronica",
)
_PHONE_SYNONYMS = (
    "phone",
    "telephone",
    "phone number",
    "tel",
    "tel.",
    "telefono",
    "numero di telefono",
    "numero telefono",
    "telefono fisso",
    "recapito telefonico",
    "landline",
)

CONTACT_FIELDS = (
    _source_id(
        "codice",
        "codice cliente",
        "cod cliente",
        "cod. cliente",
        "id cliente",
        "customer id",
        "customer code",
        "customer number",
        "numero cliente",
        "contact id",
        "id contatto",
        "codice contatto",
        "client id",
    ),
    Field(
        "first_name",
        _("First name"),
        "text",
        max_length=100,
        synonyms=("first name", "firstname", "given name", "forename", "nome", "nome proprio", "nome di battesimo"),
    ),
    Field(
        "last_name",
        _("Last name"),
        "text",
        max_length=100,
        synonyms=("last name", "lastname", "surname", "family name", "cognome"),
    ),
    Field("email", _("Email"), "email", synonyms=_EMAIL_SYNONYMS),
    Field("phone", _("Phone"), "phone", synonyms=_PHONE_SYNONYMS),
    Field(
        "mobile",
        _("Mobile"),
        "phone",
        synonyms=(
            "mobile",
            "mobile phone",
            "mobile number",
            "cell",
            "cell phone",
            "cellphone",
            "cellulare",
            "cell.",
            "telefono cellulare",
            "numero cellulare",
            "tel. cellulare",
        ),
    ),
    Field(
        "birth_date",
        _("Birth date"),
        "date",
        synonyms=(
            "birth date",
            "birthdate",
            "date of birth",
            "dob",
            "birthday",
            "data di nascita",
            "data nascita",
            "nato il",
            "nata il",
            "compleanno",
        ),
    ),
    Field(
        "tax_code",
        _("Tax code"),
        "text",
        max_length=32,
        synonyms=("tax code", "codice fiscale", "cod. fiscale", "cf", "c.f.", "ssn", "tax id", "fiscal code", "tin"),
    ),
    *_address(),
    Field(
        "company",
        _("Company"),
        "text",
        max_length=200,
        synonyms=(
            "company",
            "company name",
            "organization",
            "organisation",
            "account",
            "account name",
            "employer",
            "azienda",
            "ditta",
            "società",
            "ragione sociale",
            "impresa",
            "ente",
        ),
    ),
    Field(
        "job_title",
        _("Job title"),
        "text",
        max_length=100,
        synonyms=("job title", "title", "position", "role", "qualifica", "ruolo", "mansione", "carica", "posizione"),
    ),
    Field(
        "language",
        _("Language"),
        "choice",
        choices=language_choices(),
        choice_synonyms=language_synonyms(),
        synonyms=("language", "preferred language", "locale", "lingua", "lingua preferita"),
    ),
    Field(
        "lifecycle_stage",
        _("Lifecycle stage"),
        "choice",
        choices=LIFECYCLE_STAGES,
        choice_synonyms=LIFECYCLE_SYNONYMS,
        synonyms=(
            "lifecycle stage",
            "lifecycle",
            "stage",
            "lead status",
            "fase",
            "ciclo di vita",
            "fase ciclo di vita",
        ),
    ),
    Field(
        "created_at",
        _("Created at"),
        "datetime",
        synonyms=(
            "created at",
            "created",
            "created on",
            "creation date",
            "date created",
            "registration date",
            "signup date",
            "data creazione",
            "data di creazione",
            "creato il",
            "data inserimento",
            "data registrazione",
            "data iscrizione",
        ),
    ),
    Field(
        "email_consent",
        _("Email consent"),
        "bool",
        synonyms=(
            "email consent",
            "marketing consent",
            "newsletter",
            "opt in",
            "optin",
            "email opt in",
            "accepts marketing",
            "subscribed",
            "consenso email",
            "consenso e-mail",
            "consenso marketing",
            "consenso newsletter",
            "iscritto newsletter",
        ),
    ),
    Field(
        "notes",
        _("Notes"),
        "text",
        synonyms=(
            "notes",
            "note",
            "comments",
            "commenti",
            "annotazioni",
            "osservazioni",
            "memo",
            "description",
            "descrizione",
        ),
    ),
)

ACCOUNT_FIELDS = (
    _source_id(
        "codice",
        "account id",
        "company id",
        "id azienda",
        "codice azienda",
        "codice cliente",
        "cod cliente",
        "id cliente",
        "customer id",
        "customer code",
        required=False,
    ),
    Field(
        "name",
        _("Name"),
        "text",
        required=True,
        max_length=200,
        synonyms=(
            "name",
            "company",
            "company name",
            "account",
            "account name",
            "organization",
            "organisation",
            "business name",
            "nome",
            "azienda",
            "nome azienda",
            "denominazione",
            "società",
            "ditta",
            "cliente",
        ),
    ),
    Field(
        "legal_name",
        _("Legal name"),
        "text",
        max_length=200,
        synonyms=("legal name", "registered name", "company legal name", "ragione sociale", "denominazione sociale"),
    ),
    Field(
        "vat_number",
        _("VAT number"),
        "text",
        max_length=16,
        synonyms=(
            "vat",
            "vat number",
            "vat no",
            "vat id",
            "vat code",
            "partita iva",
            "p.iva",
            "p. iva",
            "piva",
            "part. iva",
            "partita i.v.a.",
        ),
    ),
    Field(
        "tax_code",
        _("Tax code"),
        "text",
        max_length=32,
        synonyms=("tax code", "codice fiscale", "cod. fiscale", "cf", "c.f.", "fiscal code"),
    ),
    Field(
        "industry",
        _("Industry"),
        "text",
        max_length=100,
        synonyms=("industry", "sector", "business type", "settore", "settore merceologico", "industria", "attività"),
    ),
    Field(
        "size",
        _("Size"),
        "choice",
        choices=COMPANY_SIZES,
        choice_synonyms=COMPANY_SIZE_SYNONYMS,
        synonyms=(
            "size",
            "company size",
            "employees",
            "employee count",
            "headcount",
            "dimensione",
            "dimensioni",
            "dipendenti",
            "numero dipendenti",
            "n. dipendenti",
        ),
    ),
    Field(
        "website",
        _("Website"),
        "text",
        max_length=200,
        synonyms=("website", "web site", "web", "url", "homepage", "sito", "sito web", "sito internet"),
    ),
    Field("email", _("Email"), "email", synonyms=(*_EMAIL_SYNONYMS, "pec")),
    Field("phone", _("Phone"), "phone", synonyms=_PHONE_SYNONYMS),
    *_address(),
)


def _currency() -> Field:
    return Field(
        "currency",
        _("Currency"),
        "choice",
        choices=currency_choices(),
        choice_synonyms=currency_synonyms(),
        synonyms=("currency", "currency code", "valuta", "divisa", "moneta"),
    )


PRODUCT_FIELDS = (
    _source_id("product id", "id prodotto", "id articolo", required=False),
    Field(
        "sku",
        _("SKU"),
        "text",
        required=True,
        max_length=64,
        synonyms=(
            "sku",
            "code",
            "product code",
            "item code",
            "article code",
            "part number",
            "codice",
            "codice prodotto",
            "codice articolo",
            "cod. articolo",
            "cod articolo",
            "articolo",
        ),
    ),
    Field(
        "name",
        _("Name"),
        "text",
        required=True,
        max_length=200,
        synonyms=(
            "name",
            "product name",
            "product",
            "item",
            "item name",
            "title",
            "nome",
            "nome prodotto",
            "prodotto",
            "descrizione",
            "titolo",
        ),
    ),
    Field(
        "category",
        _("Category"),
        "text",
        max_length=100,
        synonyms=(
            "category",
            "product category",
            "department",
            "product type",
            "categoria",
            "categoria prodotto",
            "famiglia",
            "reparto",
            "gruppo merceologico",
            "tipologia",
        ),
    ),
    Field(
        "price",
        _("Price"),
        "decimal",
        synonyms=(
            "price",
            "unit price",
            "list price",
            "sale price",
            "prezzo",
            "prezzo unitario",
            "prezzo di vendita",
            "prezzo vendita",
            "prezzo listino",
            "listino",
        ),
    ),
    Field(
        "cost",
        _("Cost"),
        "decimal",
        synonyms=(
            "cost",
            "unit cost",
            "purchase price",
            "costo",
            "costo unitario",
            "prezzo di acquisto",
            "prezzo acquisto",
        ),
    ),
    _currency(),
    Field(
        "active",
        _("Active"),
        "bool",
        synonyms=("active", "enabled", "on sale", "attivo", "abilitato", "in vendita", "disponibile"),
    ),
)

ORDER_FIELDS = (
    _source_id(
        "order id",
        "order",
        "order number",
        "order no",
        "id ordine",
        "numero ordine",
        "n. ordine",
        "nr ordine",
        "num ordine",
        "codice ordine",
        "rif. ordine",
        "ordine",
        label=_("Order ID"),
    ),
    Field(
        "customer_source_id",
        _("Customer ID"),
        "text",
        required=True,
        max_length=128,
        synonyms=(
            "customer id",
            "customer",
            "customer code",
            "client id",
            "contact id",
            "id cliente",
            "codice cliente",
            "cod. cliente",
            "cod cliente",
            "cliente",
            "id contatto",
        ),
    ),
    Field(
        "order_date",
        _("Order date"),
        "datetime",
        required=True,
        synonyms=(
            "order date",
            "date",
            "placed at",
            "purchase date",
            "data",
            "data ordine",
            "data acquisto",
            "data dell ordine",
        ),
    ),
    Field(
        "status",
        _("Status"),
        "choice",
        choices=ORDER_STATUSES,
        choice_synonyms=ORDER_STATUS_SYNONYMS,
        synonyms=("status", "order status", "stato", "stato ordine"),
    ),
    _currency(),
    Field(
        "sku",
        _("SKU"),
        "text",
        required=True,
        max_length=64,
        synonyms=(
            "sku",
            "product sku",
            "code",
            "product code",
            "item code",
            "codice",
            "codice prodotto",
            "codice articolo",
            "cod. articolo",
            "cod articolo",
            "articolo",
        ),
    ),
    Field(
        "product_name",
        _("Product name"),
        "text",
        max_length=200,
        synonyms=(
            "product name",
            "product",
            "item",
            "item name",
            "description",
            "nome prodotto",
            "prodotto",
            "descrizione",
            "descrizione articolo",
        ),
    ),
    Field(
        "quantity",
        _("Quantity"),
        "decimal",
        required=True,
        synonyms=("quantity", "qty", "units", "quantità", "qta", "q.tà", "qtà", "pezzi", "pz", "n. pezzi"),
    ),
    Field(
        "unit_price",
        _("Unit price"),
        "decimal",
        required=True,
        synonyms=("unit price", "price", "price each", "prezzo", "prezzo unitario", "importo unitario"),
    ),
    Field(
        "discount",
        _("Discount"),
        "decimal",
        synonyms=("discount", "discount amount", "sconto", "importo sconto"),
    ),
    Field(
        "unit_cost",
        _("Unit cost"),
        "decimal",
        synonyms=("unit cost", "cost", "costo", "costo unitario"),
    ),
    Field(
        "channel",
        _("Channel"),
        "choice",
        choices=ORDER_CHANNELS,
        choice_synonyms=ORDER_CHANNEL_SYNONYMS,
        synonyms=("channel", "sales channel", "canale", "canale di vendita"),
    ),
)

INTERACTION_FIELDS = (
    _source_id("interaction id", "activity id", "message id", "id interazione", "id attività"),
    Field(
        "customer_source_id",
        _("Customer ID"),
        "text",
        required=True,
        max_length=128,
        synonyms=(
            "customer id",
            "customer",
            "contact id",
            "contact",
            "id cliente",
            "codice cliente",
            "cod cliente",
            "cliente",
            "id contatto",
            "contatto",
        ),
    ),
    Field(
        "channel",
        _("Channel"),
        "choice",
        choices=INTERACTION_CHANNELS,
        choice_synonyms=INTERACTION_CHANNEL_SYNONYMS,
        synonyms=(
            "channel",
            "type",
            "medium",
            "interaction type",
            "activity type",
            "canale",
            "tipo",
            "tipo interazione",
        ),
    ),
    Field(
        "direction",
        _("Direction"),
        "choice",
        choices=DIRECTIONS,
        choice_synonyms=DIRECTION_SYNONYMS,
        synonyms=("direction", "in out", "inbound outbound", "direzione", "verso"),
    ),
    Field(
        "occurred_at",
        _("When"),
        "datetime",
        required=True,
        synonyms=(
            "occurred at",
            "date",
            "when",
            "timestamp",
            "date time",
            "datetime",
            "activity date",
            "data",
            "data ora",
            "data e ora",
            "quando",
            "data interazione",
        ),
    ),
    Field(
        "subject",
        _("Subject"),
        "text",
        max_length=200,
        synonyms=("subject", "title", "topic", "oggetto", "titolo", "argomento"),
    ),
    Field(
        "body",
        _("Body"),
        "text",
        synonyms=(
            "body",
            "text",
            "message",
            "content",
            "notes",
            "testo",
            "messaggio",
            "contenuto",
            "note",
            "descrizione",
        ),
    ),
)

KINDS: dict[str, tuple[Field, ...]] = {
    "contacts": CONTACT_FIELDS,
    "accounts": ACCOUNT_FIELDS,
    "products": PRODUCT_FIELDS,
    "orders": ORDER_FIELDS,
    "interactions": INTERACTION_FIELDS,
}


def fields_of(kind: str) -> dict[str, Field]:
    """Return the fields of an import kind by name; raise ``ValueError`` for an unknown kind."""
    try:
        return {f.name: f for f in KINDS[kind]}
    except KeyError:
        raise ValueError(f"unknown import kind {kind!r}; the kinds are {', '.join(KINDS)}") from None
