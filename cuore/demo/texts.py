"""The words of the demo: knowledge-base articles, ticket requests and interaction subjects, in Italian and English."""

from __future__ import annotations

# Knowledge base: (category, FAQ?, Italian title, Italian body, English title, English body)
ARTICLES = [
    ("Ordini", True,
     "Come posso seguire il mio ordine?",
     "Dopo la spedizione ricevi un'email con il numero di tracciamento. Puoi seguirlo dal sito del corriere "
     "oppure dalla pagina «I miei ordini». Gli aggiornamenti compaiono entro 24 ore dalla partenza del pacco.",
     "How can I track my order?",
     "Once your parcel ships you receive an email with its tracking number. Follow it on the carrier's site or "
     "in the 'My orders' page. Updates appear within 24 hours of dispatch."),
    ("Ordini", True,
     "Posso modificare un ordine già confermato?",
     "Finché l'ordine non è stato spedito puoi modificarne indirizzo e prodotti contattando l'assistenza. "
     "Dopo la spedizione è possibile solo il reso.",
     "Can I change an order that is already confirmed?",
     "Until the order ships, our support team can change its address and items. After shipping, only a return "
     "is possible."),
    ("Resi", True,
     "Come si effettua un reso?",
     "Hai 30 giorni dalla consegna per restituire un prodotto. Apri la richiesta dalla pagina dell'ordine, "
     "stampa l'etichetta e consegna il pacco a un punto di ritiro. Il rimborso arriva entro 14 giorni.",
     "How do I return an item?",
     "You have 30 days from delivery to return a product. Open the request from the order page, print the "
     "label and drop the parcel at a collection point. The refund arrives within 14 days."),
    ("Resi", False,
     "Rimborsi: tempi e modalità",
     "Il rimborso viene emesso sullo stesso metodo di pagamento usato per l'acquisto dopo il controllo del "
     "prodotto restituito. Per i bonifici servono da 3 a 5 giorni lavorativi.",
     "Refunds: timing and methods",
     "The refund goes back to the payment method used for the purchase once the returned item has been "
     "checked. Bank transfers take 3 to 5 working days."),
    ("Spedizioni", True,
     "Quanto costa la spedizione?",
     "La spedizione è gratuita per ordini oltre 49 euro in Italia. Sotto questa soglia costa 4,90 euro. "
     "Per l'estero i costi dipendono dal paese e sono mostrati al checkout.",
     "How much does shipping cost?",
     "Shipping is free in Italy for orders above 49 euros; below that it costs 4.90 euros. Abroad the cost "
     "depends on the country and is shown at checkout."),
    ("Spedizioni", False,
     "Consegne nelle isole e nelle zone remote",
     "Per Sicilia, Sardegna e le isole minori la consegna può richiedere da 1 a 3 giorni in più. "
     "Alcuni prodotti voluminosi non sono spedibili nelle isole minori.",
     "Deliveries to islands and remote areas",
     "Deliveries to islands and remote areas may take 1 to 3 extra days. Some bulky products cannot be "
     "shipped to small islands."),
    ("Pagamenti", True,
     "Quali metodi di pagamento accettate?",
     "Accettiamo carte di credito e debito, PayPal, bonifico bancario e pagamento alla consegna "
     "(con un supplemento di 2 euro).",
     "Which payment methods do you accept?",
     "We accept credit and debit cards, PayPal, bank transfer and cash on delivery (with a 2 euro surcharge)."),
    ("Pagamenti", False,
     "Pagamento rifiutato: cosa fare",
     "Verifica che i dati della carta siano corretti e che il 3D Secure sia attivo. Se il problema persiste "
     "contatta la tua banca oppure scegli un altro metodo di pagamento.",
     "Payment declined: what to do",
     "Check that the card details are correct and that 3D Secure is enabled. If the problem persists, contact "
     "your bank or choose another payment method."),
    ("Fatturazione", True,
     "Come ottengo la fattura?",
     "Inserisci partita IVA e codice destinatario al checkout: la fattura elettronica viene inviata allo SDI "
     "entro 48 ore. I privati la trovano in PDF nella pagina dell'ordine.",
     "How do I get an invoice?",
     "Enter your VAT number at checkout and the invoice is issued within 48 hours. Private customers find it "
     "as a PDF on the order page."),
    ("Account", True,
     "Ho dimenticato la password",
     "Dalla pagina di accesso scegli «Password dimenticata» e inserisci la tua email: riceverai un link valido "
     "per un'ora per impostarne una nuova.",
     "I forgot my password",
     "On the sign-in page choose 'Forgot password' and enter your email: you receive a link, valid for one "
     "hour, to set a new one."),
    ("Account", False,
     "Cancellare l'account e i propri dati",
     "Puoi chiedere la cancellazione dell'account e dei dati personali scrivendo all'assistenza. "
     "Conserviamo solo i documenti fiscali per il periodo previsto dalla legge.",
     "Deleting your account and your data",
     "You can ask for your account and personal data to be deleted by writing to support. We keep only the "
     "tax documents for the period the law requires."),
    ("Privacy", True,
     "Come revoco il consenso alla newsletter?",
     "Ogni newsletter contiene un link di disiscrizione. Puoi anche gestire i consensi dalla pagina del "
     "profilo: la revoca ha effetto immediato.",
     "How do I withdraw my newsletter consent?",
     "Every newsletter has an unsubscribe link. You can also manage your consents from your profile page: "
     "the withdrawal takes effect at once."),
    ("Garanzia", True,
     "Cosa copre la garanzia?",
     "Tutti i prodotti hanno 24 mesi di garanzia legale per i difetti di conformità. Conserva la prova "
     "d'acquisto e apri una richiesta indicando il numero d'ordine.",
     "What does the warranty cover?",
     "All products carry a 24-month legal warranty against defects. Keep your proof of purchase and open a "
     "request with your order number."),
    ("Garanzia", False,
     "Prodotto arrivato danneggiato",
     "Se il pacco arriva danneggiato, accetta con riserva e scattaci una foto. Apri una richiesta entro 8 "
     "giorni: sostituiamo il prodotto senza costi.",
     "Product arrived damaged",
     "If the parcel arrives damaged, accept it with reservation and take a photo. Open a request within 8 days: "
     "we replace the product at no cost."),
    ("Prodotti", False,
     "Come scegliere la friggitrice ad aria",
     "Valuta la capienza del cestello in base al numero di persone, la potenza e la facilità di pulizia. "
     "Per 4 persone consigliamo almeno 5 litri.",
     "Choosing an air fryer",
     "Consider the basket size for your household, the power and how easy it is to clean. For four people we "
     "suggest at least 5 litres."),
    ("Prodotti", False,
     "Conservare il vino in casa",
     "Tieni le bottiglie coricate, al buio e a temperatura costante tra 12 e 16 gradi, lontano da vibrazioni.",
     "Storing wine at home",
     "Keep bottles lying down, in the dark and at a steady temperature between 12 and 16 degrees, away from "
     "vibrations."),
    ("Negozi", True,
     "Posso ritirare l'ordine in negozio?",
     "Sì: scegli «Ritiro in negozio» al checkout. Ti avvisiamo via SMS quando l'ordine è pronto; hai 10 "
     "giorni per ritirarlo.",
     "Can I collect my order in store?",
     "Yes: choose 'Collect in store' at checkout. We text you when the order is ready; you have 10 days to "
     "collect it."),
    ("Aziende", False,
     "Condizioni per clienti business",
     "Le aziende possono richiedere pagamento a 30 giorni, listini dedicati e un referente commerciale. "
     "Contatta il team vendite indicando partita IVA e volumi previsti.",
     "Terms for business customers",
     "Companies can ask for 30-day payment terms, dedicated price lists and an account manager. Contact the "
     "sales team with your VAT number and expected volumes."),
    ("Fedeltà", True,
     "Come funziona il programma fedeltà?",
     "Ogni euro speso vale un punto. Con 200 punti ricevi un buono da 10 euro. I punti scadono dopo 24 mesi "
     "senza acquisti.",
     "How does the loyalty programme work?",
     "Every euro you spend earns one point. 200 points give you a 10 euro voucher. Points expire after 24 "
     "months without purchases."),
    ("Fedeltà", False,
     "Buoni regalo: validità e utilizzo",
     "I buoni regalo valgono 12 mesi e si possono usare online e nei negozi, anche in più acquisti fino a "
     "esaurimento del credito.",
     "Gift cards: validity and use",
     "Gift cards are valid for 12 months and can be used online and in stores, across several purchases until "
     "the balance runs out."),
]  # fmt: skip

# Ticket requests: (category, Italian subject, English subject, needs an order)
TICKET_SUBJECTS = [
    ("Spedizione", "Ordine {order} non ancora arrivato", "Order {order} has not arrived yet", True),
    ("Spedizione", "Tracking dell'ordine {order} fermo", "Tracking for order {order} is stuck", True),
    ("Resi", "Richiesta di reso per l'ordine {order}", "Return request for order {order}", True),
    ("Resi", "Rimborso non ancora ricevuto", "Refund not received yet", True),
    ("Prodotto", "Prodotto difettoso", "Faulty product", True),
    ("Prodotto", "Articolo diverso da quello ordinato", "Received the wrong item", True),
    ("Prodotto", "Informazioni su compatibilità", "Question about compatibility", False),
    ("Pagamento", "Addebito doppio sulla carta", "Charged twice on my card", True),
    ("Pagamento", "Pagamento rifiutato", "Payment declined", False),
    ("Fatturazione", "Fattura con partita IVA errata", "Invoice shows the wrong VAT number", True),
    ("Account", "Non riesco ad accedere", "I cannot sign in", False),
    ("Account", "Cambio indirizzo email", "Change of email address", False),
    ("Privacy", "Richiesta cancellazione dati", "Request to delete my data", False),
    ("Informazioni", "Disponibilità prodotto in negozio", "Is the product available in store?", False),
]
TICKET_DESCRIPTIONS = {
    "it": [
        "Buongiorno, vi scrivo perché {subject_lower}. Potete aiutarmi? Grazie.",
        "Salve, {subject_lower}. Attendo un vostro riscontro al più presto.",
        "Ciao, ho un problema: {subject_lower}. Resto in attesa.",
    ],
    "en": [
        "Hello, I am writing because: {subject_lower}. Could you help? Thanks.",
        "Hi, {subject_lower}. I look forward to hearing from you soon.",
        "Good morning, I have a problem: {subject_lower}. Please get back to me.",
    ],
}
SATISFACTION_COMMENTS = {
    "it": {
        1: "Risposta lenta e problema non risolto.",
        2: "Ci è voluto troppo tempo.",
        3: "Risolto, ma con qualche difficoltà.",
        4: "Gentili e abbastanza rapidi.",
        5: "Assistenza eccellente, grazie!",
    },
    "en": {
        1: "Slow answer and the problem is still there.",
        2: "It took far too long.",
        3: "Solved, with some back and forth.",
        4: "Friendly and fairly quick.",
        5: "Excellent support, thank you!",
    },
}

# Interactions not tied to an order, ticket or deal: (channel, direction, Italian subject, English subject, source)
FREE_INTERACTIONS = [
    ("email", "out", "Newsletter: le novità del mese", "Newsletter: this month's news", "newsletter"),
    ("email", "out", "Offerte riservate per te", "Offers picked for you", "newsletter"),
    ("email", "in", "Domanda su un prodotto", "Question about a product", ""),
    ("phone", "in", "Chiamata per informazioni", "Call asking for information", ""),
    ("phone", "out", "Chiamata di follow-up", "Follow-up call", ""),
    ("sms", "out", "SMS: codice sconto del 10%", "SMS: 10% discount code", "sms_gateway"),
    ("sms", "out", "SMS: promemoria carrello", "SMS: basket reminder", "sms_gateway"),
    ("chat", "in", "Chat dal sito", "Website chat", "livechat"),
    ("social", "in", "Messaggio su Instagram", "Instagram message", "instagram"),
    ("social", "in", "Commento su Facebook", "Facebook comment", "facebook"),
    ("web_form", "in", "Modulo contatti del sito", "Website contact form", "website"),
    ("web_form", "in", "Richiesta preventivo", "Quote request", "website"),
    ("meeting", "out", "Incontro conoscitivo", "Introductory meeting", ""),
    ("store", "in", "Visita in negozio", "Store visit", ""),
    ("letter", "out", "Lettera: auguri e catalogo", "Letter: season's greetings and catalogue", ""),
    ("letter", "in", "Lettera di reclamo", "Complaint letter", ""),
]
FREE_WEIGHTS = [22, 10, 6, 6, 4, 6, 3, 8, 5, 3, 4, 2, 2, 6, 1, 1]
CHAT_LINES = {
    "it": ["Salve, avrei bisogno di un'informazione.", "Certo, come posso aiutarla?", "Grazie, tutto chiaro!"],
    "en": ["Hi, I need some information.", "Sure, how can I help?", "Thanks, that is clear!"],
}
DEAL_OFFERS = {
    "it": ["Fornitura annuale", "Rinnovo contratto", "Progetto arredo uffici", "Lista nozze", "Dotazione IT", "Regali aziendali"],
    "en": ["Annual supply", "Contract renewal", "Office fit-out", "Wedding list", "IT equipment", "Corporate gifts"],
}  # fmt: skip
ACTIVITY_SUBJECTS = {
    "call": {"it": "Chiamare per aggiornamento", "en": "Call for an update"},
    "meeting": {"it": "Incontro di presentazione", "en": "Presentation meeting"},
    "email": {"it": "Inviare proposta economica", "en": "Send the price proposal"},
    "todo": {"it": "Preparare il preventivo", "en": "Prepare the quote"},
}
RETURN_REASONS = {
    "it": ["Taglia sbagliata", "Prodotto difettoso", "Non corrisponde alla descrizione", "Non più necessario"],
    "en": ["Wrong size", "Faulty product", "Not as described", "No longer needed"],
}
CONSENT_SOURCES = {
    "webshop": ("registrazione webshop", "webshop sign-up"),
    "store": ("modulo in negozio", "in-store form"),
    "web_form": ("modulo sul sito", "website form"),
    "event": ("iscrizione all'evento", "event registration"),
}
