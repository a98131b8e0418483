"""Pausing the cyclic garbage collector around bulk allocation.

A 1M-applicant draw allocates tens of millions of small acyclic objects (lists, tuples, strings).
CPython's generational collector is triggered by allocation counts and repeatedly traverses all
surviving containers, which made the large stages grow much faster than linearly.  Reference
counting alone frees everything the engine allocates (it creates no cycles), so the collector is
paused for the duration and its previous state restored.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore its previous state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
