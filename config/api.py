"""The REST API: one NinjaAPI at /api/v1/ assembling every app's router."""

from ninja import NinjaAPI

from cuore.analytics.api import router as analytics_router
from cuore.analytics.api_segments import router as segments_router
from cuore.contacts.api import router as contacts_router
from cuore.core.api import install_error_handlers
from cuore.identity.api import router as identity_router
from cuore.imports.api import router as imports_router
from cuore.interactions.api import router as interactions_router
from cuore.orders.api import router as orders_router
from cuore.sales.api import router as sales_router
from cuore.service.api import router as service_router
from cuore.users.api import router as users_router
from cuore.users.auth import BearerAuth

api = NinjaAPI(
    title="Cuore API",
    version="1",
    description=(
        "The Cuore CRM REST API. Authenticate with `Authorization: Bearer <token>` "
        "(`cuore token create --user NAME`). Lists use cursor pagination: pass `next_cursor` back as `cursor`. "
        "Create endpoints honour an `Idempotency-Key` header."
    ),
    auth=BearerAuth(),
    urls_namespace="api",
)
install_error_handlers(api)

api.add_router("/", users_router)
api.add_router("/", contacts_router)
api.add_router("/", sales_router)
api.add_router("/", orders_router)
api.add_router("/", service_router)
api.add_router("/", interactions_router)
api.add_router("/", analytics_router)
api.add_router("/", segments_router)
api.add_router("/", identity_router)
api.add_router("/", imports_router)
