"""Time and peak memory of the stages of a run, for its figures and for bench/analytics."""

from __future__ import annotations

import contextlib
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_STATUS = Path("/proc/self/status")


def rss_mb() -> float:
    """The process's resident memory now, in MB (its peak so far where /proc is missing)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StageMeter:
    """Record each stage's seconds and peak resident memory (sampled every ``interval`` seconds)."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.stages: list[dict] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        peak = [rss_mb()]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(self.interval):
                peak[0] = max(peak[0], rss_mb())

        sampler = threading.Thread(target=sample, name=f"meter-{name}", daemon=True)
        started = time.monotonic()
        sampler.start()
        try:
            yield
        finally:
            done.set()
            sampler.join()
            peak[0] = max(peak[0], rss_mb())
            self.stages.append(
                {"stage": name, "seconds": round(time.monotonic() - started, 3), "peak_rss_mb": round(peak[0], 1)}
            )
