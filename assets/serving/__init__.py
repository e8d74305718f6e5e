"""Serving layer: the versioned, read-only snapshot the dashboard and the PDF read (see xiaoshuju/serving.py).

Unlike the other layers the snapshot asset is built by a factory: it depends on every last asset of landing,
staging and the marts, which pipelines/definitions.py derives from what is defined at the time.
"""

from assets.serving.asset import SNAPSHOT_KEY, build_snapshot_asset

ASSETS: list = []  # built in pipelines/definitions.py via build_snapshot_asset(upstream)
CHECKS: list = []

__all__ = ["ASSETS", "CHECKS", "SNAPSHOT_KEY", "build_snapshot_asset"]
