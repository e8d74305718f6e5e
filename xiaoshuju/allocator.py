"""How polars' memory allocator returns memory to the system, set before polars is loaded.

polars allocates through its own jemalloc, which it configures (polars/__init__.py) to hand freed pages back to
the system within 0.5–1 s, appending whatever ``_RJEM_MALLOC_CONF`` holds (the last value of an option wins). The
load frees and re-allocates frames of hundreds of MB per batch, so the same pages went back and were faulted in
again and again: at M 4.8 M page faults, 15–22 of the load's 64–71 CPU seconds in the kernel. Keeping freed pages
for jemalloc's usual 10 s (a background thread purges them, so memory an idle phase no longer uses still goes
back) takes a third of the faults away: load 64–65 → 56–59 CPU seconds, 34 → 30–31 s, peak RSS 4.9 → 5.2 GB
(M, the same files, runs interleaved).

jemalloc reads ``_RJEM_MALLOC_CONF`` once, when polars' library is loaded: the packages that use polars import
this module first. A value already in the environment is left as it is (``dirty_decay_ms:500,muzzy_decay_ms:1000``
restores polars' behaviour).
"""

from __future__ import annotations

import os

POLARS_JEMALLOC = "background_thread:true,dirty_decay_ms:10000,muzzy_decay_ms:10000"
ENV = "_RJEM_MALLOC_CONF"


def configure() -> None:
    os.environ.setdefault(ENV, POLARS_JEMALLOC)


configure()
