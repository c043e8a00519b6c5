"""Request middleware of the shared kernel."""

from cuore.core.audit import audit_channel
from cuore.core.models import Channel


class AuditChannelMiddleware:
    """Attribute writes made while answering a request to the API or to the web interface."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = Channel.API if request.path.startswith("/api/") else Channel.UI
        with audit_channel(channel):
            return self.get_response(request)
