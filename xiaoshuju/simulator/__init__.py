"""Seeded simulator of a community-retail brand (issue 4): real export formats + ground truth.

See docs/simulator.md. Entry points: ``simulate(...)`` (Python) and ``xiaoshuju simulate`` (CLI)."""

from xiaoshuju.simulator.core import SimResult, simulate

__all__ = ["SimResult", "simulate"]
