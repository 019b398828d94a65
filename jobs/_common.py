"""Shared argument handling of the spark-submit entry points (they take the CLI's options)."""

from __future__ import annotations

import os
import sys

# Make the repository importable when the job is submitted from a checkout.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lake import cli  # noqa: E402


def submit(command: list[str]) -> None:
    """Run ``lake <command> <argv>`` and exit with its code."""
    sys.exit(cli.main(command + sys.argv[1:]))
