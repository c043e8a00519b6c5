"""REST endpoints of the interactions app."""

from ninja import Router

router = Router(tags=["interactions"])
