"""The gold table registry: every gold table's name, defined once.

Pure Python (no pyspark), so ``lake plan`` and ``lake status`` list the tables without
importing Spark; the modules that build the tables take their names from here.
"""

from __future__ import annotations

#: The star's dimension and fact tables, in build order (``gold.<name>`` views).
STAR_TABLES: tuple[str, ...] = ("dim_customer", "dim_channel", "dim_agent", "dim_date", "fact_interaction")

#: Star tables built from the configuration alone: they consume no silver changes.
CONFIG_TABLES: tuple[str, ...] = ("dim_channel",)

#: The answer tables: table -> (answer, key columns of one row).
ANSWER_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "answer_contacts_24h": ("contacts_24h", ("customer_email",)),
    "answer_interactions_by_channel": ("interactions_by_channel", ("customer_email", "channel")),
    "answer_last_interaction": ("last_interaction", ("customer_email",)),
}

#: The cooperative's flat table (exported as one CSV file).
FLAT_TABLE = "movimento_flat"

#: Every gold table of each pipeline, in build order.
CUSTOMER_EXPERIENCE_TABLES: tuple[str, ...] = STAR_TABLES + tuple(ANSWER_TABLES)
COOPERATIVE_TABLES: tuple[str, ...] = (FLAT_TABLE,)
GOLD_TABLES: tuple[str, ...] = CUSTOMER_EXPERIENCE_TABLES + COOPERATIVE_TABLES
