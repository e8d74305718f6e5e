"""Data contracts: canonical tables, per-source mappings, format detection, readers, quarantine rules, GX suites."""
