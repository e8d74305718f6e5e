
from xiaoshuju import allocator  # noqa: F401 - before polars is loaded (see the module)
