"""xiaoshuju 小数据 — small-data insight for community retail."""

__version__ = "0.1.0"
