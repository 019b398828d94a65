"""Seeded sample data at any scale: the four channel files and the cooperative's database.

Example:
    >>> from lake.datagen import generate
    >>> generate(landing_dir="data/landing", database_url="jdbc:sqlite:data/cooperative.db",
    ...          interactions=4000, transactions=5000)  # doctest: +SKIP

Needs the ``datagen`` extra (``pip install 'lake[datagen]'``: Faker, numpy, pandas); the
rest of the package does not.
"""

from lake.errors import require_extra

require_extra("datagen", "faker", "numpy", "pandas")

# ruff: noqa: E402 - the imports below come after the extra check on purpose
from lake.datagen.channels import generate_channel_files
from lake.datagen.cooperative import (
    generate_cooperative,
    iter_movimento_chunks,
    luhn_valid,
    write_cooperative_sqlite,
)
from lake.datagen.generate import DEMO_INTERACTIONS, DEMO_TRANSACTIONS, generate
from lake.datagen.people import build_people

__all__ = [
    "DEMO_INTERACTIONS",
    "DEMO_TRANSACTIONS",
    "build_people",
    "generate",
    "generate_channel_files",
    "generate_cooperative",
    "iter_movimento_chunks",
    "luhn_valid",
    "write_cooperative_sqlite",
]
