"""Seeded sample data at any scale: the four channel files and the cooperative's database."""

from lake.datagen.channels import generate_channel_files

__all__ = ["generate_channel_files"]
