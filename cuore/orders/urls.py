"""Web pages of the orders app: the order list and page with its fulfilment flow, the product list and page."""

from django.urls import path

from cuore.orders import views

app_name = "orders"

urlpatterns = [
    path("orders/", views.order_list, name="list"),
    path("orders/bulk/", views.order_bulk, name="bulk"),
    path("orders/pick/products/", views.pick_product, name="pick_product"),
    path("orders/<int:order_id>/", views.order_detail, name="detail"),
    path("orders/<int:order_id>/confirm/", views.order_confirm, name="confirm"),
    path("orders/<int:order_id>/fulfil/", views.order_fulfil, name="fulfil"),
    path("orders/<int:order_id>/ship/", views.order_ship, name="ship"),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="cancel"),
    path("orders/<int:order_id>/lines/", views.line_add, name="line_add"),
    path("orders/<int:order_id>/lines/<int:line_id>/", views.line_update, name="line_update"),
    path("orders/<int:order_id>/lines/<int:line_id>/remove/", views.line_remove, name="line_remove"),
    path(
        "orders/<int:order_id>/shipments/<int:shipment_id>/delivered/",
        views.shipment_delivered,
        name="shipment_delivered",
    ),
    path("orders/<int:order_id>/returns/", views.return_create, name="return_create"),
    path("orders/<int:order_id>/returns/<int:return_id>/status/", views.return_status, name="return_status"),
    path("products/", views.product_list, name="products"),
    path("products/bulk/", views.product_bulk, name="products_bulk"),
    path("products/new/", views.product_create, name="product_create"),
    path("products/<int:product_id>/", views.product_detail, name="product"),
]
