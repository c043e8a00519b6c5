"""A production web server for Cuore: gunicorn with threads, static files through WhiteNoise."""

from __future__ import annotations

import os

from django.core.management import call_command
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from config.wsgi import application

        return application


def serve(*, host: str, port: int, workers: int | None = None) -> None:
    """Collect static files, then serve until interrupted."""
    call_command("collectstatic", interactive=False, verbosity=0)
    cores = os.cpu_count() or 1
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers or min(2 * cores + 1, 8),
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 60,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
        }
    ).run()
