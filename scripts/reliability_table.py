"""Render the fault-injection summary written by tests/test_faults.py as the Markdown table
of docs/reliability.md.

Usage: python scripts/reliability_table.py [SUMMARY_JSON] [--write docs/reliability.md]
(``--write`` replaces the text between the ``reliability-table`` markers of that file.)
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


def write(doc: Path, table: str) -> None:
    text = doc.read_text(encoding="utf-8")
    start, end = "<!-- reliability-table:start -->", "<!-- reliability-table:end -->"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    doc.write_text(f"{head}{start}\n{table}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    args = sys.argv[1:]
    target = None
    if "--write" in args:
        i = args.index("--write")
        target = Path(args[i + 1])
        del args[i:i + 2]
    path = Path(args[0]) if args else DEFAULT
    table = render(json.loads(path.read_text()))
    if target is None:
        print(table)
    else:
        write(target, table)
