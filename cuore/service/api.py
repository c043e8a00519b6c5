"""REST endpoints of the service app."""

from ninja import Router

router = Router(tags=["service"])
