"""Where every table of the lake lives, relative to the lake root (any Hadoop URI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LakePaths:
    """Table locations under one lake root.

    Example:
        >>> LakePaths("/tmp/lake").silver("interactions")
        '/tmp/lake/silver/interactions'
    """

    root: str

    def _join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def bronze(self, source: str) -> str:
        return self._join("bronze", source)

    def silver(self, table: str) -> str:
        return self._join("silver", table)

    def quarantine(self, table: str) -> str:
        return self._join("quarantine", table)

    def gold(self, table: str) -> str:
        return self._join("gold", table)

    def system(self, name: str) -> str:
        """Lake bookkeeping tables: ``runs``, ``ingest_log``, ``watermarks``, ..."""
        return self._join("_system", name)
