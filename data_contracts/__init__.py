"""Data contracts: canonical tables, per-source mappings, format detection, readers, quarantine rules, GX suites."""

from xiaoshuju import allocator  # noqa: F401 - before polars is loaded (see the module)
