"""marts/group_vitality: weekly group health, vitality score, lifecycle, zombie detection, alerts, survival
(docs/marts/group_vitality.md)."""

from assets.marts.group_vitality.assets import ASSETS, CHECKS

__all__ = ["ASSETS", "CHECKS"]
