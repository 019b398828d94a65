"""lake: a Spark-native medallion data lake on Delta Lake.

Importing ``lake`` never starts Spark; names are loaded on first use.

Example:
    >>> from lake import Lake
    >>> lk = Lake.from_config("conf/lake.yml")
    >>> lk.last_interaction(as_of="2019-10-02 00:00:00").show()
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "Lake",
    "LakeConfig",
    "LakeError",
    "ConfigError",
    "get_spark",
    "load_config",
    "run",
    "watch",
    "functions",
]

_LAZY = {
    "Lake": ("lake.api", "Lake"),
    "LakeConfig": ("lake.config", "LakeConfig"),
    "load_config": ("lake.config", "load_config"),
    "LakeError": ("lake.errors", "LakeError"),
    "ConfigError": ("lake.errors", "ConfigError"),
    "get_spark": ("lake.session", "get_spark"),
    "run": ("lake.pipeline", "run"),
    "watch": ("lake.watch", "watch"),
    "functions": ("lake.silver.functions", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lake' has no attribute {name!r}")
    module, attr = _LAZY[name]
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
