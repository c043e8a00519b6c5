"""The catalogue pages of the web application: the product list, a product's page, a new product, for every role."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.core.models import AuditEntry
from cuore.orders.models import Product
from cuore.orders.tests.factories import make_category, make_product

pytestmark = pytest.mark.django_db

EVERY_ROLE = ["admin", "manager", "rep", "stranger", "support", "marketing", "analyst"]
WRITERS = ["admin", "manager"]
READERS = ["rep", "support", "marketing", "analyst"]


def body(response) -> str:
    return response.content.decode()


def product_data(**changes) -> dict[str, str]:
    data = {"sku": "NEW-1", "name": "Teapot", "category": "", "price": "30.00", "cost": "12.00", "currency": "eur"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# ---- the list ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_everyone_reads_the_catalogue(client, people, product, role):
    client.force_login(people[role])

    listing = client.get("/products/")
    page = client.get(f"/products/{product.pk}/")

    assert listing.status_code == 200 and page.status_code == 200
    assert "MUG-01" in body(listing) and "Mug" in body(page)


def test_the_catalogue_asks_anonymous_visitors_to_sign_in(client, product):
    for url in ("/products/", f"/products/{product.pk}/", "/products/new/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_filters_by_category_tree_active_flag_and_sku_or_name(client, people):
    kitchen = make_category(name="Kitchen")
    mugs = make_category(name="Mugs", parent=kitchen)
    garden = make_category(name="Garden")
    make_product(sku="MUG-1", name="Blue mug", category=mugs)
    make_product(sku="POT-1", name="Teapot", category=kitchen, active=False)
    make_product(sku="HOSE-1", name="Hose", category=garden)
    client.force_login(people["support"])

    def skus(query: str) -> set[str]:
        page = body(client.get(f"/products/?{query}"))
        return {sku for sku in ("MUG-1", "POT-1", "HOSE-1") if f">{sku}<" in page}

    assert skus(f"category={kitchen.pk}") == {"MUG-1", "POT-1"}
    assert skus(f"category={mugs.pk}") == {"MUG-1"}
    assert skus("active=no") == {"POT-1"}
    assert skus("active=yes") == {"MUG-1", "HOSE-1"}
    assert skus("q=hose") == {"HOSE-1"}
    assert skus("q=pot-") == {"POT-1"}
    assert skus("q=blue") == {"MUG-1"}
    page = body(client.get("/products/"))
    assert f'<option value="{mugs.pk}">\u00a0\u00a0\u00a0Mugs</option>' in page
    assert "Kitchen / Mugs" in page


def test_products_sort_by_price_and_show_price_cost_and_margin(client, people):
    make_product(sku="CHEAP", name="A", price="10.00", cost="4.00")
    make_product(sku="DEAR", name="B", price="200.00", cost="150.00")
    client.force_login(people["analyst"])

    by_price = body(client.get("/products/?sort=-price"))

    assert by_price.index(">DEAR<") < by_price.index(">CHEAP<")
    assert "€200.00" in by_price and "€150.00" in by_price and "25.0%" in by_price and "60.0%" in by_price


def test_the_product_list_costs_the_same_queries_for_few_or_many_rows(client, people):
    def products(n: int) -> None:
        for _ in range(n):
            make_product(category=make_category())

    client.force_login(people["rep"])
    products(3)
    client.get("/products/")
    with CaptureQueriesContext(connection) as few:
        client.get("/products/")
    products(30)
    with CaptureQueriesContext(connection) as many:
        page = body(client.get("/products/"))

    assert page.count('data-testid="row"') == 33
    assert len(many) == len(few)


def test_the_csv_export_neutralises_formula_cells(client, people):
    make_product(sku="@SUM(A1)", name="=cmd|' /C calc'!A0", price="5.00", cost="1.00")
    make_product(sku="SAFE", name="Plain", price="7.50", cost="0.00", active=False)
    client.force_login(people["marketing"])

    response = client.get("/products/?export=csv&cols=sku,name,price,active&sort=sku")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    assert response["Content-Disposition"] == 'attachment; filename="products.csv"'
    assert rows == [
        ["SKU", "Name", "Price", "Active"],
        ["'@SUM(A1)", "'=cmd|' /C calc'!A0", "5.00", "yes"],
        ["SAFE", "Plain", "7.50", "no"],
    ]


def test_bulk_deactivate_and_activate_go_through_the_services(client, people):
    first, second = make_product(), make_product(active=False)
    client.force_login(people["manager"])

    off = client.post("/products/bulk/", {"ids": [first.pk], "action": "deactivate", "next": "/products/"})
    on = client.post("/products/bulk/", {"ids": [second.pk], "action": "activate"})

    assert off.status_code == 302 and on.status_code == 302
    assert dict(Product.objects.values_list("pk", "active")) == {first.pk: False, second.pk: True}
    assert AuditEntry.objects.filter(action="product.update", channel="ui").count() == 2


@pytest.mark.parametrize("role", READERS)
def test_bulk_deactivate_is_forbidden_to_readers(client, people, product, role):
    client.force_login(people[role])

    response = client.post("/products/bulk/", {"ids": [product.pk], "action": "deactivate"})

    assert response.status_code == 403
    assert Product.objects.get(pk=product.pk).active


def test_a_bad_bulk_request_says_why(client, people, product):
    client.force_login(people["admin"])

    response = client.post("/products/bulk/", {"ids": [product.pk], "action": ""}, follow=True)

    assert "choose an action" in body(response)
    assert Product.objects.get(pk=product.pk).active


def test_only_writers_see_the_bulk_actions_and_the_new_button(client, people, product):
    client.force_login(people["rep"])
    reader = body(client.get("/products/"))
    client.force_login(people["admin"])
    writer = body(client.get("/products/"))

    assert 'data-testid="bulk-actions"' not in reader and 'data-testid="product-new"' not in reader
    assert 'data-testid="bulk-actions"' in writer and 'data-testid="product-new"' in writer


# ---- a product -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_readers_see_the_product_without_the_form_and_may_not_change_it(client, people, product, role):
    client.force_login(people[role])

    page = body(client.get(f"/products/{product.pk}/"))
    response = client.post(f"/products/{product.pk}/", product_data(sku="MUG-01", name="Changed"))

    assert 'data-testid="product-form"' not in page and "€19.99" in page
    assert response.status_code == 403
    assert Product.objects.get(pk=product.pk).name == "Mug"


def test_a_writer_edits_a_product_through_the_service(client, people, product):
    category = make_category(name="Kitchen")
    client.force_login(people["manager"])

    form = body(client.get(f"/products/{product.pk}/"))
    response = client.post(
        f"/products/{product.pk}/",
        product_data(sku="MUG-01", name="Big mug", category=str(category.pk), price="21.50", active="on"),
    )

    assert 'data-testid="product-form"' in form and 'value="MUG-01"' in form
    assert response.status_code == 302 and response["Location"] == f"/products/{product.pk}/"
    product.refresh_from_db()
    assert (product.name, product.category, product.price, product.active) == (
        "Big mug",
        category,
        Decimal("21.50"),
        True,
    )
    entry = AuditEntry.objects.get(action="product.update")
    assert entry.channel == "ui" and entry.changes["name"] == ["Mug", "Big mug"]


def test_an_unticked_active_box_takes_the_product_off_sale(client, people, product):
    client.force_login(people["admin"])

    client.post(f"/products/{product.pk}/", product_data(sku="MUG-01", name="Mug", price="19.99", cost="7.50"))

    assert not Product.objects.get(pk=product.pk).active


def test_product_errors_are_shown_beside_their_fields(client, people, product):
    other = make_product(sku="TAKEN")
    client.force_login(people["admin"])

    wrong = client.post(f"/products/{product.pk}/", product_data(sku="", price="-1", currency="EU"))
    taken = client.post(f"/products/{product.pk}/", product_data(sku=other.sku.lower()))
    bad_currency = client.post(f"/products/{product.pk}/", product_data(currency="XXY"))

    assert wrong.status_code == 200
    assert 'data-testid="error-sku"' in body(wrong) and 'data-testid="error-price"' in body(wrong)
    assert 'data-testid="error-currency"' in body(wrong)
    assert "Another product already has this SKU." in body(taken) and 'data-testid="error-sku"' in body(taken)
    assert "Enter a currency code, such as EUR." in body(bad_currency)
    assert Product.objects.get(pk=product.pk).sku == "MUG-01"
    assert not AuditEntry.objects.filter(channel="ui").exists()


def test_a_missing_product_is_not_found(client, people):
    client.force_login(people["admin"])

    assert client.get("/products/999999/").status_code == 404
    assert client.post("/products/999999/", product_data()).status_code == 404


def test_a_writer_creates_a_product(client, people):
    client.force_login(people["admin"])

    form = client.get("/products/new/")
    response = client.post("/products/new/", product_data(active="on"))

    product = Product.objects.get(sku="NEW-1")
    assert form.status_code == 200 and 'data-testid="product-form"' in body(form)
    assert response.status_code == 302 and response["Location"] == f"/products/{product.pk}/"
    assert (product.name, product.currency, product.price, product.cost, product.active) == (
        "Teapot",
        "EUR",
        Decimal("30.00"),
        Decimal("12.00"),
        True,
    )
    assert AuditEntry.objects.get(action="product.create").channel == "ui"


def test_a_new_product_with_errors_is_shown_again(client, people):
    client.force_login(people["manager"])

    response = client.post("/products/new/", product_data(name="", price="abc"))

    assert response.status_code == 200
    assert 'data-testid="error-name"' in body(response) and 'data-testid="error-price"' in body(response)
    assert not Product.objects.exists()


@pytest.mark.parametrize("role", READERS)
def test_readers_may_not_create_products(client, people, role):
    client.force_login(people[role])

    assert client.get("/products/new/").status_code == 403
    assert client.post("/products/new/", product_data()).status_code == 403
    assert not Product.objects.exists()


def test_the_catalogue_speaks_italian(client, people, product):
    user = people["admin"]
    user.language = "it"
    user.save(update_fields=["language"])
    client.force_login(user)

    listing = body(client.get("/products/"))
    page = body(client.get(f"/products/{product.pk}/"))

    assert "Prodotti" in listing and "Nuovo prodotto" in listing and "Margine %" in listing
    assert "Prezzo" in page and "19,99\u00a0€" in page
