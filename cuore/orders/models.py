"""The order back office: categories, products, orders and their lines, shipments and returns."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cuore.core.models import TimeStampedModel


class Category(models.Model):
    """A product category; categories form a tree through ``parent``."""

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        # The ordering of the category list.
        indexes = [models.Index(fields=["name", "id"], name="category_name_idx")]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="category_name_unique_in_parent"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent__isnull=True), name="category_root_name_unique"
            ),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    """Something the organisation sells, with its list price and its cost."""

    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    # text_key(name): what the name search and the "name" ordering use, whatever the case and accents.
    name_key = models.CharField(max_length=200, editable=False, default="")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        indexes = [
            models.Index(fields=["category", "active"], name="product_category_idx"),
            # The orderings of the product list ("sku" uses the unique index of sku).
            models.Index(fields=["name_key", "id"], name="product_name_idx"),
            models.Index(fields=["-price", "-id"], name="product_price_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="product_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    CONFIRMED = "confirmed", _("Confirmed")
    FULFILLED = "fulfilled", _("Fulfilled")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


class OrderChannel(models.TextChoices):
    WEB = "web", _("Web shop")
    STORE = "store", _("Store")
    PHONE = "phone", _("Phone")
    SALES = "sales", _("Sales rep")
    MARKETPLACE = "marketplace", _("Marketplace")


class Order(TimeStampedModel):
    """A customer's order; its totals are derived from its lines by the services."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    account = models.ForeignKey(
        "contacts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=OrderChannel.choices, default=OrderChannel.WEB)
    placed_at = models.DateTimeField(_("placed at"))
    status = models.CharField(_("status"), max_length=12, choices=OrderStatus.choices, default=OrderStatus.DRAFT)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    subtotal = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2, default=0)
    discount_total = models.DecimalField(_("discount"), max_digits=14, decimal_places=2, default=0)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=0)
    cost_total = models.DecimalField(_("cost"), max_digits=14, decimal_places=2, default=0)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-placed_at", "-id"], name="order_placed_idx"),
            models.Index(fields=["contact", "-placed_at"], name="order_contact_idx"),
            models.Index(fields=["account", "-placed_at"], name="order_account_idx"),
            models.Index(fields=["status", "-placed_at"], name="order_status_idx"),
            # The "-total" ordering of the order list; "-placed" and "placed" both walk order_placed_idx.
            models.Index(fields=["-total", "-id"], name="order_total_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
            models.CheckConstraint(condition=Q(channel__in=OrderChannel.values), name="order_channel_valid"),
            models.CheckConstraint(
                condition=Q(contact__isnull=False) | Q(account__isnull=False), name="order_has_customer"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def margin(self):
        return self.total - self.cost_total


class OrderLine(models.Model):
    """One product on an order: quantity, unit price, discount, and the unit cost at the time."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    unit_cost = models.DecimalField(_("unit cost"), max_digits=12, decimal_places=2, default=0)
    line_total = models.DecimalField(_("line total"), max_digits=14, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["product"], name="orderline_product_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orderline_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderline_price_not_negative"),
            models.CheckConstraint(condition=Q(discount__gte=0), name="orderline_discount_not_negative"),
            models.CheckConstraint(condition=Q(line_total__gte=0), name="orderline_total_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} on {self.order_id}"


class Shipment(models.Model):
    """A parcel that left for the customer."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(_("carrier"), max_length=50, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["order"], name="shipment_order_idx")]

    def __str__(self) -> str:
        return f"shipment of {self.order_id} ({self.carrier} {self.tracking_number})"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    RECEIVED = "received", _("Received")
    REFUNDED = "refunded", _("Refunded")
    REJECTED = "rejected", _("Rejected")


class Return(models.Model):
    """Goods a customer sends back, line by line, with the reason and the refund."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED)
    refund_amount = models.DecimalField(_("refund"), max_digits=14, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["order"], name="return_order_idx")]
        constraints = [models.CheckConstraint(condition=Q(status__in=ReturnStatus.values), name="return_status_valid")]

    def __str__(self) -> str:
        return f"return of {self.order_id}: {self.reason}"


class ReturnLine(models.Model):
    """How many of one order line come back."""

    order_return = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="return_lines")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="returnline_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} × line {self.order_line_id}"
