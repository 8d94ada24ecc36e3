"""Wall-clock timing and peak-memory probes shared by every case.

`bench` times a callable (warm-up excluded, median of repeats); `summary`
puts single timed runs into the same `{"median_s", "min_s", "repeats"}`
form, which `results.json` uses for every timing. `rss_peak_delta` and
`fixed_mmap_threshold` measure peak memory on a CPU (see `run.py`).
"""

import statistics
import time

# Quick mode (`run.py --quick`): one warm-up, two repeats, no minimum time.
QUICK = False


def set_quick(quick):
    """Switches `bench` to the quick mode's repeat counts."""
    global QUICK
    QUICK = bool(quick)


def now():
    return time.perf_counter()


def summary(times):
    """The timing dict of `results.json` for a list of durations (s)."""
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "repeats": len(times),
    }


def bench(fn, sync, *, warmup=2, min_repeats=5, max_repeats=30, min_time=0.3):
    """Median wall time of `fn()` in seconds, warm-up calls excluded.

    `sync(out)` waits for the backend to finish (asynchronous dispatch on
    JAX and GPUs). Repeats until `min_repeats` calls and `min_time` seconds
    have passed, at most `max_repeats` calls.
    """
    if QUICK:
        warmup, min_repeats, min_time = 1, 2, 0.0
    for _ in range(warmup):
        sync(fn())
    times = []
    start = now()
    while len(times) < max_repeats and (
        len(times) < min_repeats or now() - start < min_time
    ):
        t0 = now()
        sync(fn())
        times.append(now() - t0)
    return summary(times)


def _status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return None


def rss_peak_delta(fn, sync):
    """Peak RSS during `fn()` minus RSS before it, in bytes (Linux only)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    before = _status_kb("VmRSS:")
    sync(fn())
    peak = _status_kb("VmHWM:")
    if before is None or peak is None:
        return None
    return max(peak - before, 0) * 1024


def fixed_mmap_threshold(threshold=64 * 1024):
    """glibc `mallopt(M_MMAP_THRESHOLD)`; no-op where unavailable.

    Every block over `threshold` is then served by `mmap` and returned to
    the system on free, so the peak RSS reflects a call's live buffers,
    not the heap's cache.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, threshold)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, threshold)  # M_TRIM_THRESHOLD
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass
