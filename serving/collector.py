"""Python's cyclic garbage collector, tuned for a serving process.

Recording a batch allocates many short-lived objects; with Python's defaults (a collection of
the youngest generation every 700 allocations) the collector ran about 40 times per 256-listing
batch, its older generations over the whole heap of the loaded libraries and model. A serving
process, once its code and state are loaded, freezes what exists (``gc.freeze``: never examined
again) and collects the youngest generation every ``LISTINGGUARD_GC_YOUNG_THRESHOLD``
allocations: 25-30% more listings/s on the batch endpoint (docs/results.md). A reload unfreezes
first, so a replaced model's cycles can still be collected, then freezes the new state.

Only serving processes tune it (the CLI, each worker): tests building apps in one process never
freeze.
"""

import gc

_TUNED = {"on": False}


def tune_garbage_collector(young_threshold: int) -> None:
    """Freeze what is loaded now and collect the youngest generation every
    ``young_threshold`` allocations, for the rest of this process."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
    _TUNED["on"] = True


def refreeze() -> None:
    """After a reload: what the replaced state left in cycles is collected, the new state
    frozen. Nothing where the collector was not tuned."""
    if _TUNED["on"]:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
