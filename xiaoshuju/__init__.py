"""xiaoshuju 小数据 — small-data insight for community retail."""

from xiaoshuju import allocator  # noqa: F401 - before polars is loaded (see the module)

__version__ = "0.1.0"
