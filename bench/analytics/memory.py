"""Peak resident memory of this process over a block of code (Linux)."""

from __future__ import annotations

import resource
import threading
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
SAMPLE_SECONDS = 0.02


def _status_mb(key: str) -> float | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


# The peak before the last reset of the high-water mark (which ru_maxrss follows too).
_peak_before_reset_mb = 0.0


def process_peak_mb() -> float:
    """The peak RSS of the whole process since it started, across the resets PeakMemory makes."""
    now = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, _status_mb("VmHWM") or 0.0)
    return max(_peak_before_reset_mb, now)


class PeakMemory:
    """Measure the peak RSS over a ``with`` block.

    The kernel's high-water mark (VmHWM) is reset at the start by writing 5 to /proc/self/clear_refs
    (Linux ≥ 4.0), so it then covers the block alone; VmRSS is also sampled every 20 ms from a thread,
    which works where the reset is not allowed (and agrees with it where it is, give or take a spike
    shorter than a sample). ``peak_mb`` is the larger of the two; ``method`` says which were used.
    The reset also resets ``ru_maxrss``: ``process_peak_mb`` keeps the peak from before it.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self.sampled_mb = 0.0
        self.hwm_mb: float | None = None
        self.method = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reset = False

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            rss = _status_mb("VmRSS")
            if rss is not None:
                self.sampled_mb = max(self.sampled_mb, rss)

    def __enter__(self) -> PeakMemory:
        global _peak_before_reset_mb
        _peak_before_reset_mb = process_peak_mb()
        try:
            CLEAR_REFS.write_text("5")
            self._reset = True
        except OSError:
            self._reset = False
        self.sampled_mb = _status_mb("VmRSS") or 0.0
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sampled_mb = max(self.sampled_mb, _status_mb("VmRSS") or 0.0)
        if self._reset:
            self.hwm_mb = _status_mb("VmHWM")
        self.peak_mb = max(self.sampled_mb, self.hwm_mb or 0.0)
        self.method = "VmHWM reset at the start + VmRSS sampled" if self._reset else "VmRSS sampled every 20 ms"
        return False
