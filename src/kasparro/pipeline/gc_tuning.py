"""Garbage-collector settings for bulk loads."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# A bulk load allocates millions of short-lived objects in batches that stay alive for a
# while; with the default thresholds (700, 10, 10) the collector kept rescanning them and
# took a quarter of the CPU of a 1M-row load (bench/csv_load.py).
BULK_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Collect less often while the block runs; objects alive before it are never rescanned."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BULK_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
