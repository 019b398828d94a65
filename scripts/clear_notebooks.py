"""Clear the outputs of the repository's notebooks, or check that none are committed.

    python scripts/clear_notebooks.py            # strip outputs and execution counts in place
    python scripts/clear_notebooks.py --check    # exit 1 and name the notebooks that have outputs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def has_outputs(nb) -> bool:
    """True when any code cell carries outputs or an execution count."""
    return any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None) for c in nb.cells)


def clear(nb) -> None:
    """Remove outputs, execution counts and per-run cell metadata in place."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks with outputs (exit 1)")
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.paths or sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not has_outputs(nb):
            continue
        dirty.append(path)
        if not args.check:
            clear(nb)
            nbformat.write(nb, path)
    for path in dirty:
        print(f"{path}: {'has outputs' if args.check else 'cleared'}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
