"""Dagster assets, one package per layer or mart. Pure logic lives beside each asset, importable without Dagster."""
