"""Dagster assets, one package per layer or mart. Pure logic lives beside each asset, importable without Dagster."""

from xiaoshuju import allocator  # noqa: F401 - before polars is loaded (see the module)
