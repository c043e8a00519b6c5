"""Fixed reference data of the demo: places, the catalogue, pipelines, SLA targets, queues and tags.

The data's clock stops at ``DATA_NOW``: every generated time lies before it, so the same seed gives
the same data whatever day the load runs.
"""

from __future__ import annotations

import datetime as dt

DATA_NOW = dt.datetime(2026, 11, 1, 17, 30, tzinfo=dt.UTC)
NOW = int(DATA_NOW.timestamp())
DAY = 86400
HISTORY_DAYS = 3 * 365
HISTORY_START = NOW - HISTORY_DAYS * DAY
# The days any generated date falls on: birth dates reach 80 years back, due dates a few months ahead.
FIRST_DAY = NOW // DAY - 82 * 366
LAST_DAY = NOW // DAY + 400
DEMO_PASSWORD = "cuore-demo-2026"

# (username, role, team, first name, last name); the admin comes first, as the logins are printed.
DEMO_USERS = [
    ("admin", "admin", None, "Alessandra", "Conti"),
    ("manager", "manager", None, "Roberto", "Ferri"),
    ("giulia", "sales", "Nord", "Giulia", "Marchetti"),
    ("marco", "sales", "Sud", "Marco", "Esposito"),
    ("emma", "sales", "International", "Emma", "Clarke"),
    ("sara", "support", "Assistenza", "Sara", "Galli"),
    ("luca", "support", "Assistenza", "Luca", "Rinaldi"),
    ("chiara", "marketing", None, "Chiara", "Fontana"),
    ("paolo", "analyst", None, "Paolo", "Barbieri"),
]
DEMO_TEAMS = ["Nord", "Sud", "International", "Assistenza"]

# Italian cities: (city, province, first postal code, postal codes, area code, sales zone, weight).
ITALIAN_CITIES = [
    ("Milano", "MI", 20121, 42, "02", "Nord", 14),
    ("Torino", "TO", 10121, 30, "011", "Nord", 8),
    ("Genova", "GE", 16121, 40, "010", "Nord", 5),
    ("Venezia", "VE", 30121, 50, "041", "Nord", 3),
    ("Verona", "VR", 37121, 20, "045", "Nord", 3),
    ("Padova", "PD", 35121, 20, "049", "Nord", 3),
    ("Bologna", "BO", 40121, 20, "051", "Nord", 5),
    ("Brescia", "BS", 25121, 16, "030", "Nord", 3),
    ("Bergamo", "BG", 24121, 8, "035", "Nord", 2),
    ("Trieste", "TS", 34121, 30, "040", "Nord", 2),
    ("Trento", "TN", 38121, 2, "0461", "Nord", 1),
    ("Bolzano", "BZ", 39100, 1, "0471", "Nord", 1),
    ("Parma", "PR", 43121, 6, "0521", "Nord", 2),
    ("Modena", "MO", 41121, 6, "059", "Nord", 2),
    ("Reggio Emilia", "RE", 42121, 4, "0522", "Nord", 2),
    ("Udine", "UD", 33100, 1, "0432", "Nord", 1),
    ("Vicenza", "VI", 36100, 1, "0444", "Nord", 1),
    ("Treviso", "TV", 31100, 1, "0422", "Nord", 1),
    ("Como", "CO", 22100, 1, "031", "Nord", 1),
    ("Monza", "MB", 20900, 1, "039", "Nord", 2),
    ("Novara", "NO", 28100, 1, "0321", "Nord", 1),
    ("Piacenza", "PC", 29121, 2, "0523", "Nord", 1),
    ("Ravenna", "RA", 48121, 4, "0544", "Nord", 1),
    ("Rimini", "RN", 47921, 4, "0541", "Nord", 1),
    ("Ferrara", "FE", 44121, 4, "0532", "Nord", 1),
    ("Firenze", "FI", 50121, 20, "055", "Nord", 4),
    ("Prato", "PO", 59100, 1, "0574", "Nord", 2),
    ("Livorno", "LI", 57121, 8, "0586", "Nord", 1),
    ("Pisa", "PI", 56121, 8, "050", "Nord", 1),
    ("Roma", "RM", 118, 80, "06", "Sud", 14),
    ("Napoli", "NA", 80121, 26, "081", "Sud", 8),
    ("Bari", "BA", 70121, 12, "080", "Sud", 3),
    ("Palermo", "PA", 90121, 26, "091", "Sud", 5),
    ("Catania", "CT", 95121, 11, "095", "Sud", 3),
    ("Messina", "ME", 98121, 48, "090", "Sud", 2),
    ("Reggio Calabria", "RC", 89121, 14, "0965", "Sud", 2),
    ("Cagliari", "CA", 9121, 14, "070", "Sud", 2),
    ("Sassari", "SS", 7100, 1, "079", "Sud", 1),
    ("Salerno", "SA", 84121, 14, "089", "Sud", 2),
    ("Foggia", "FG", 71121, 2, "0881", "Sud", 1),
    ("Taranto", "TA", 74121, 2, "099", "Sud", 2),
    ("Lecce", "LE", 73100, 1, "0832", "Sud", 1),
    ("Pescara", "PE", 65121, 8, "085", "Sud", 1),
    ("L'Aquila", "AQ", 67100, 1, "0862", "Sud", 1),
    ("Cosenza", "CS", 87100, 1, "0984", "Sud", 1),
    ("Latina", "LT", 4100, 1, "0773", "Sud", 1),
    ("Caserta", "CE", 81100, 1, "0823", "Sud", 1),
    ("Siracusa", "SR", 96100, 1, "0931", "Sud", 1),
    ("Potenza", "PZ", 85100, 1, "0971", "Sud", 1),
    ("Perugia", "PG", 6121, 14, "075", "Sud", 2),
    ("Ancona", "AN", 60121, 11, "071", "Sud", 1),
    ("Terni", "TR", 5100, 1, "0744", "Sud", 1),
    ("Brindisi", "BR", 72100, 1, "0831", "Sud", 1),
]
ITALIAN_MOBILE_PREFIXES = [
    "320", "324", "327", "328", "329", "330", "331", "333", "334", "335", "336", "337", "338", "339",
    "340", "342", "345", "346", "347", "348", "349", "350", "351", "366", "370", "371", "380", "388",
    "389", "391", "392", "393",
]  # fmt: skip

# (city, region or state, landline area code, weight)
UK_CITIES = [
    ("London", "Greater London", "20", 10),
    ("Manchester", "Greater Manchester", "161", 3),
    ("Birmingham", "West Midlands", "121", 3),
    ("Leeds", "West Yorkshire", "113", 2),
    ("Glasgow", "Scotland", "141", 2),
    ("Edinburgh", "Scotland", "131", 2),
    ("Bristol", "Bristol", "117", 2),
    ("Liverpool", "Merseyside", "151", 2),
    ("Cardiff", "Wales", "29", 1),
    ("Belfast", "Northern Ireland", "28", 1),
    ("Sheffield", "South Yorkshire", "114", 1),
    ("Newcastle upon Tyne", "Tyne and Wear", "191", 1),
    ("Nottingham", "Nottinghamshire", "115", 1),
    ("Cambridge", "Cambridgeshire", "1223", 1),
    ("Oxford", "Oxfordshire", "1865", 1),
    ("Brighton", "East Sussex", "1273", 1),
]
US_CITIES = [
    ("New York", "NY", "212", 10),
    ("Los Angeles", "CA", "213", 6),
    ("Chicago", "IL", "312", 4),
    ("Houston", "TX", "713", 3),
    ("Boston", "MA", "617", 3),
    ("San Francisco", "CA", "415", 3),
    ("Seattle", "WA", "206", 2),
    ("Miami", "FL", "305", 2),
    ("Austin", "TX", "512", 2),
    ("Denver", "CO", "303", 2),
    ("Atlanta", "GA", "404", 2),
    ("Philadelphia", "PA", "215", 2),
]

EMAIL_DOMAINS = {
    "IT": ["gmail.com", "libero.it", "hotmail.it", "yahoo.it", "outlook.it", "virgilio.it", "tiscali.it", "alice.it"],
    "GB": ["gmail.com", "outlook.com", "yahoo.co.uk", "hotmail.co.uk", "icloud.com", "btinternet.com"],
    "US": ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "aol.com", "hotmail.com"],
}
WEB_SUFFIX = {"IT": "it", "GB": "co.uk", "US": "com"}

ITALIAN_TITLES = [
    "Amministratore delegato", "Direttore generale", "Direttore commerciale", "Responsabile acquisti",
    "Responsabile amministrativo", "Responsabile IT", "Responsabile marketing", "Ufficio acquisti",
    "Titolare", "Socio", "Responsabile logistica", "Office manager", "Direttore finanziario",
    "Responsabile qualità", "Assistente di direzione", "Buyer", "Project manager", "Responsabile vendite",
]  # fmt: skip
ITALIAN_SECTORS = [
    "Arredamenti", "Costruzioni", "Logistica", "Informatica", "Alimentari", "Impianti", "Tessile",
    "Meccanica", "Consulting", "Trasporti", "Elettronica", "Forniture", "Ceramiche", "Distribuzione",
    "Servizi", "Edilizia", "Commerciale", "Industrie", "Sistemi", "Ottica", "Vini", "Hotel",
]  # fmt: skip
ENGLISH_SECTORS = [
    "Logistics", "Consulting", "Supplies", "Systems", "Trading", "Foods", "Engineering", "Holdings",
    "Design", "Retail", "Software", "Hospitality", "Builders", "Partners", "Distribution", "Media",
]  # fmt: skip
INDUSTRIES = [
    "Retail", "Manufacturing", "Hospitality", "Construction", "Information technology", "Wholesale",
    "Food and beverage", "Healthcare", "Education", "Professional services", "Transport and logistics",
    "Public administration",
]  # fmt: skip
COMPANY_SIZES = [("1-9", 30), ("10-49", 35), ("50-249", 20), ("250-999", 10), ("1000+", 5)]

SOURCES = [("webshop", 40), ("store", 18), ("web_form", 12), ("import", 8), ("event", 6), ("referral", 6), ("ads", 10)]
SOCIAL_NETWORKS = ["instagram", "facebook", "linkedin", "tiktok", "x"]

TAGS = [
    ("VIP", "#d4af37"), ("Newsletter", "#0d6efd"), ("B2B", "#6610f2"), ("Fiera Milano 2025", "#20c997"),
    ("Rivenditore", "#6f42c1"), ("Black Friday", "#212529"), ("Fedeltà", "#dc3545"), ("Reclamo", "#fd7e14"),
    ("Partner", "#198754"), ("Early adopter", "#0dcaf0"), ("Prospect caldo", "#e83e8c"), ("Export", "#6c757d"),
]  # fmt: skip

# Orders per month relative to the average: a peak in November–December, a summer dip.
MONTH_SEASON = [0.9, 0.8, 0.95, 1.0, 1.0, 0.9, 0.7, 0.55, 0.95, 1.05, 1.6, 1.9]

# Root categories: (name, code, month weights shift, subcategories). A subcategory is
# (name, product nouns, brands, lowest price €, highest price €, lowest margin %, highest margin %).
CATALOGUE = [
    ("Elettronica", "ELE", {10: 1.5, 11: 1.8}, [
        ("Smartphone", ["Smartphone", "Telefono"], ["Nova", "Pixelle", "Orion"], 149, 1199, 5, 12),
        ("Computer portatili", ["Notebook", "Ultrabook", "Laptop"], ["Aero", "Vega", "Lumen"], 399, 1999, 5, 10),
        ("Audio e cuffie", ["Cuffie wireless", "Auricolari", "Soundbar", "Speaker Bluetooth"], ["Sonora", "Beat"], 29, 449, 15, 35),
        ("Accessori elettronici", ["Caricatore rapido", "Power bank", "Cavo USB-C", "Custodia"], ["Volt", "Linky"], 9, 79, 35, 60),
        ("TV e video", ["Smart TV 43\"", "Smart TV 55\"", "Proiettore", "Chiavetta streaming"], ["Visio", "Lumen"], 39, 1299, 6, 15),
    ]),
    ("Casa e cucina", "CAS", {11: 1.4}, [
        ("Piccoli elettrodomestici", ["Macchina da caffè", "Frullatore", "Friggitrice ad aria", "Bollitore"], ["Casalux", "Domo"], 29, 399, 20, 35),
        ("Pentole e padelle", ["Padella antiaderente", "Pentola a pressione", "Set pentole", "Casseruola"], ["Ferro&Rame", "Cucina Viva"], 19, 249, 30, 50),
        ("Arredo tavola", ["Servizio piatti", "Set bicchieri", "Tovaglia", "Posate 24 pezzi"], ["Tavola Bella", "Nordic Home"], 14, 189, 35, 55),
        ("Tessili casa", ["Set lenzuola", "Piumone", "Asciugamani", "Coperta"], ["Lino Fine", "Soffice"], 19, 219, 40, 60),
    ]),
    ("Abbigliamento", "ABB", {3: 1.3, 9: 1.3, 11: 1.3}, [
        ("Uomo", ["Camicia", "Giacca", "Maglione", "Pantaloni chino"], ["Sartoria Blu", "Urbano"], 29, 289, 45, 60),
        ("Donna", ["Abito", "Blusa", "Cappotto", "Gonna"], ["Eleganza", "Vela"], 29, 349, 45, 60),
        ("Bambino", ["Tutina", "Felpa", "Giubbino", "Pigiama"], ["Piccoli Passi", "Gioco"], 12, 89, 40, 58),
        ("Scarpe", ["Sneaker", "Stivaletto", "Mocassino", "Scarpa da corsa"], ["Passo", "Runline"], 39, 229, 35, 55),
    ]),
    ("Sport e tempo libero", "SPO", {4: 1.3, 5: 1.5, 6: 1.6, 7: 1.4}, [
        ("Fitness", ["Tappetino yoga", "Manubri", "Fascia elastica", "Kettlebell"], ["FitPro", "Energia"], 12, 249, 30, 50),
        ("Ciclismo", ["Casco bici", "Luci LED bici", "Borraccia termica", "Bicicletta gravel"], ["Ciclo", "Strada"], 9, 1499, 15, 40),
        ("Outdoor e campeggio", ["Tenda 2 posti", "Sacco a pelo", "Zaino trekking", "Fornello da campo"], ["Vetta", "Bosco"], 19, 389, 30, 50),
        ("Sport acquatici", ["Muta", "Maschera snorkeling", "Telo mare", "SUP gonfiabile"], ["Onda", "Marea"], 14, 599, 25, 45),
    ]),
    ("Bellezza e salute", "BEL", {12: 1.5, 2: 1.2}, [
        ("Cura del viso", ["Crema idratante", "Siero vitamina C", "Detergente viso", "Maschera viso"], ["Aura", "Pelle Pura"], 9, 89, 45, 60),
        ("Profumi", ["Eau de parfum 50 ml", "Eau de toilette 100 ml", "Profumo uomo", "Cofanetto regalo"], ["Essenza", "Notte"], 29, 149, 35, 55),
        ("Cura dei capelli", ["Shampoo", "Balsamo", "Asciugacapelli", "Piastra"], ["Chioma", "Salone"], 6, 179, 30, 55),
        ("Integratori", ["Multivitaminico", "Omega 3", "Proteine whey", "Magnesio"], ["Vita+", "Natura"], 9, 59, 40, 60),
    ]),
    ("Libri e media", "LIB", {9: 1.4, 12: 1.6}, [
        ("Narrativa", ["Romanzo", "Giallo", "Raccolta di racconti"], ["Edizioni Aurora", "Penna d'Oro"], 9, 24, 10, 30),
        ("Saggistica", ["Saggio", "Biografia", "Manuale"], ["Edizioni Aurora", "Sapere"], 12, 39, 10, 30),
        ("Libri per ragazzi", ["Albo illustrato", "Romanzo per ragazzi", "Libro gioco"], ["Girandola"], 7, 22, 12, 30),
        ("Musica e film", ["Vinile", "Cofanetto Blu-ray", "CD"], ["Sound Archive"], 12, 59, 15, 35),
    ]),
    ("Giardino e fai da te", "GIA", {3: 1.5, 4: 1.7, 5: 1.6}, [
        ("Utensili elettrici", ["Trapano avvitatore", "Smerigliatrice", "Seghetto alternativo", "Levigatrice"], ["Forza", "Artigiano"], 39, 349, 15, 30),
        ("Giardinaggio", ["Tagliaerba", "Tagliasiepi", "Set attrezzi giardino", "Tubo estensibile"], ["Verde", "Orto"], 14, 599, 20, 40),
        ("Illuminazione", ["Lampada da terra", "Faretto LED", "Plafoniera", "Lampada da tavolo"], ["Luce Viva", "Nordic Home"], 14, 249, 35, 55),
        ("Ferramenta", ["Set cacciaviti", "Cassetta attrezzi", "Metro laser", "Scala in alluminio"], ["Artigiano"], 9, 189, 30, 50),
    ]),
    ("Alimentari e bevande", "ALI", {11: 1.4, 12: 2.2}, [
        ("Caffè e tè", ["Caffè in grani 1 kg", "Capsule compatibili x100", "Tè verde", "Caffè macinato"], ["Torrefazione Moka", "Aroma"], 5, 39, 20, 45),
        ("Vini", ["Barolo DOCG", "Prosecco DOC", "Chianti Classico", "Franciacorta"], ["Cantina del Colle", "Tenuta Sole"], 9, 69, 25, 50),
        ("Dolci e snack", ["Panettone artigianale", "Cioccolato fondente", "Biscotti", "Torrone"], ["Dolce Vita", "Forno Antico"], 4, 39, 30, 55),
        ("Olio e condimenti", ["Olio extravergine 1 l", "Aceto balsamico", "Pesto", "Sugo pronto"], ["Frantoio", "Orto"], 4, 29, 25, 50),
    ]),
]  # fmt: skip
PRODUCTS_PER_SUBCATEGORY = 9

PIPELINES = [
    (
        "Vendite",
        True,
        [("Nuovo contatto", 10), ("Qualificato", 25), ("Analisi esigenze", 40), ("Proposta", 60), ("Negoziazione", 80)],
    ),
    ("Rinnovi e partnership", False, [("Da contattare", 20), ("Offerta inviata", 50), ("In approvazione", 80)]),
]
LOST_REASONS = {
    "it": [
        "Prezzo troppo alto",
        "Scelto un concorrente",
        "Budget non disponibile",
        "Nessuna risposta dal cliente",
        "Tempistiche non compatibili",
        "Progetto annullato",
    ],
    "en": [
        "Price too high",
        "Went with a competitor",
        "No budget",
        "No response from the customer",
        "Timing did not fit",
        "Project cancelled",
    ],
}

# SLA policies: (name, default, {priority: (first response minutes, resolution minutes)})
SLA_POLICIES = [
    ("Standard", True, {"urgent": (60, 480), "high": (240, 1440), "normal": (480, 2880), "low": (1440, 5760)}),
    ("Premium", False, {"urgent": (30, 240), "high": (60, 720), "normal": (240, 1440), "low": (480, 2880)}),
]
# Queues: (name, SLA policy name)
QUEUES = [("Assistenza clienti", "Standard"), ("Resi e rimborsi", "Standard"), ("Clienti business", "Premium")]

CARRIERS = {
    "IT": ["BRT", "GLS", "SDA", "Poste Italiane", "DHL"],
    "GB": ["Royal Mail", "DHL", "UPS"],
    "US": ["UPS", "FedEx"],
}
