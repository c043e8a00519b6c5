"""A production web server for Cuore: gunicorn with threads, static files through WhiteNoise."""

from __future__ import annotations

import fcntl
import os
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from gunicorn.app.base import BaseApplication

JOB_POLL_SECONDS = 5.0


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


def serve(*, host: str, port: int, workers: int | None = None, job_worker: bool = False) -> None:
    """Collect static files, then serve until interrupted; with ``job_worker``, run the background jobs too."""
    call_command("collectstatic", interactive=False, verbosity=0)
    # The server processes are forked from this one: they must not share its database connections.
    connections.close_all()
    cores = os.cpu_count() or 1
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers or min(2 * cores + 1, 8),
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
    }
    if job_worker:
        options.update(post_fork=_jobs_thread_start, worker_exit=_jobs_thread_stop)
    _Gunicorn(options).run()


# The background jobs run in a daemon thread of one server process, not of the gunicorn master: the
# master forks the server processes, and a child forked while another thread is inside a SQLite
# transaction can corrupt the database when it drops its copy of that connection. Every server process
# starts a thread that waits for the data directory's job lock; the one holding it runs the jobs. If
# that process dies the lock goes with it and another one takes over (the job it was running is
# claimed again when its lease expires).
_job_thread: dict[str, Any] = {}


def _jobs_thread_start(server, worker) -> None:
    from cuore.core.jobs import Worker

    job_worker = Worker(poll_seconds=JOB_POLL_SECONDS, say=lambda line: print(f"[jobs] {line}", flush=True))

    def run() -> None:
        with open(settings.DATA_DIR / "jobs.lock", "a") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if job_worker.wait(JOB_POLL_SECONDS):
                        return
            job_worker.run_forever()

    thread = threading.Thread(target=run, name="cuore-jobs", daemon=True)
    thread.start()
    _job_thread.update(worker=job_worker, thread=thread)


def _jobs_thread_stop(server, worker) -> None:
    """Let the current job finish within the graceful timeout; a longer one is claimed again later."""
    if _job_thread:
        _job_thread["worker"].stop()
        _job_thread["thread"].join(timeout=server.cfg.graceful_timeout)
