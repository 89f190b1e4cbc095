"""Garbage-collector settings for bulk loads and for a serving worker."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# A bulk load allocates millions of short-lived objects in batches that stay alive for a
# while; with the default thresholds (700, 10, 10) the collector kept rescanning them and
# took a quarter of the CPU of a 1M-row load (bench/csv_load.py).
BULK_THRESHOLDS = (100_000, 50, 100)
# A serving worker: requests allocate short-lived objects only. A bigger young generation and
# rarer older passes keep full collections (~74 ms each over an unfrozen start-up heap, about
# once a second under load) out of the tail; the start-up heap itself is frozen.
SERVING_THRESHOLDS = (50_000, 20, 100)


def freeze_startup_heap() -> None:
    """Move everything alive after start-up to the permanent generation and collect less often.

    Modules, routes, pydantic models and pools live as long as the worker: rescanning them in
    every full collection is what made p99 10x p50 (issue 11)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Collect less often while the block runs; objects alive before it are never rescanned."""
    previous = gc.get_threshold()
    served = gc.get_freeze_count() > 0  # a serving worker froze its start-up heap: keep it so
    gc.freeze()
    gc.set_threshold(*BULK_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        if not served:
            gc.unfreeze()
