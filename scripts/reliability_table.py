"""Render the fault-injection summary written by tests/test_faults.py as the Markdown table
of docs/reliability.md.

Usage: python scripts/reliability_table.py [.pytest_cache/lake-reliability.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / ".pytest_cache" / "lake-reliability.json"


def _lost(value) -> int:
    return sum(value.values()) if isinstance(value, dict) else int(value)


def render(summary: dict) -> str:
    crash = summary.get("crash_points", {})
    faults = summary.get("faults", {})
    bad = summary.get("bad_inputs", {})

    def count(values: dict, ok: tuple[str, ...]) -> str:
        return f"{sum(v in ok for v in values.values())} / {len(values)}"

    lines = [
        "| What | Tried | Ended well |",
        "|---|---|---|",
        f"| Crash points (SIGKILL, then rerun) | {len(crash)} | {count(crash, ('converged',))} converged |",
        f"| Faults (database stopped, two runs, unwritable / full disk) | {len(faults)} | {count(faults, ('survived',))} survived |",
        f"| Bad input files | {len(bad)} | {count(bad, ('quarantined', 'logged empty'))} quarantined or logged |",
        f"| Rows lost | | **{_lost(summary.get('rows_lost', 0))}** |",
        "",
        "<details><summary>Every case</summary>",
        "",
        "| Case | Outcome |",
        "|---|---|",
    ]
    for title, values in (("crash", crash), ("fault", faults), ("bad input", bad)):
        lines += [f"| {title}: `{name}` | {outcome} |" if title == "crash" else f"| {title}: {name} | {outcome} |"
                  for name, outcome in values.items()]
    lines += ["", "</details>"]
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    print(render(json.loads(path.read_text())))
