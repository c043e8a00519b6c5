"""REST endpoints of the orders app."""

from ninja import Router

router = Router(tags=["orders"])
