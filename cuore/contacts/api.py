"""REST endpoints of the contacts app."""

from ninja import Router

router = Router(tags=["contacts"])
