"""Format evidence: prove, per source file, that each datetime column is read the right way.

``01/08/2019`` reads as 8 January or 1 August; nothing in the string tells. The files carry
evidence that does: a weekday column, a duration that must equal end minus start, an end
that must not precede its start. :func:`evidence_summary` measures, per file and per
evidence rule, on how many rows the reading agrees with the evidence (one aggregation, no
collect). :func:`decide` reads that tiny summary (the orchestrator collects it) and either
confirms the configured formats, picks per file the candidate format list the evidence
supports, or refuses the file: a wrong reading is never loaded silently. A refused file is
quarantined whole or stops the run, as the table's ``on_refuted`` says.

A row counts as evidence when the raw datetime text and the evidence value are present and
the text parses under at least one format the column knows (configured or candidate): a
value no format reads (``13/45/19``) says nothing about which format is right; its row is
quarantined by its own reason (``<column>_unparseable``). A row agrees when the text
parses with the formats under test *and* matches the evidence, so a format that does not
parse the readable values is refuted too.

Example:
    >>> summary = evidence_summary(bronze, cfg.silver["ura"])
    >>> decision = decide(cfg.silver["ura"], summary.collect())
    >>> decision.refused     # files whose every reading is refuted
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from lake.config import ColumnType, Evidence, EvidenceKind, SilverTable
from lake.silver import functions as sf
from lake.silver.columns import col, column_expr, raw_source, readable, rule_formats

CONFIGURED = "configured"
_DATETIME = (ColumnType.TIMESTAMP, ColumnType.TIMESTAMP_NTZ, ColumnType.DATE)


@dataclass(frozen=True)
class Check:
    """One evidence rule evaluated under one assignment of candidate formats."""

    evidence: Evidence
    subjects: tuple[str, ...]  # datetime columns the rule judges
    assignment: tuple[tuple[str, int], ...]  # (column, candidate index) for candidate columns

    @property
    def variant(self) -> str:
        return ",".join(f"{c}={i}" for c, i in self.assignment) or CONFIGURED


def _named(ev: Evidence, field: str) -> str:
    """A column the evidence's kind requires (the config rejects a rule without it)."""
    value = getattr(ev, field)
    if value is None:
        raise ValueError(f"evidence {ev.name!r} ({ev.kind.value}) needs {field!r}")
    return str(value)


def _subjects(ev: Evidence) -> tuple[str, ...]:
    if ev.kind == EvidenceKind.WEEKDAY:
        return (_named(ev, "column"),)
    return (_named(ev, "start"), _named(ev, "end"))


def candidate_columns(table: SilverTable) -> list[str]:
    """Columns whose format is chosen per file among ``candidates``."""
    return [n for n, r in table.columns.items() if r.candidates and r.type in _DATETIME]


def plan(table: SilverTable) -> list[Check]:
    """Every (evidence rule, candidate assignment) pair to measure."""
    cands = set(candidate_columns(table))
    checks = []
    for ev in table.evidence:
        subjects = tuple(s for s in _subjects(ev) if s)
        mine = [s for s in dict.fromkeys(subjects) if s in cands]
        ranges = [range(len(table.columns[s].candidates)) for s in mine]
        for combo in itertools.product(*ranges):
            checks.append(Check(ev, subjects, tuple(zip(mine, combo))))
    return checks


def _value(table: SilverTable, name: str, types: Mapping, assignment: Mapping[str, int]) -> Column:
    rule = table.columns.get(name)
    if rule is None:
        return col(name)  # a bronze column (e.g. ``Semana``)
    fmts = rule_formats(rule, assignment.get(name)) if rule.type in _DATETIME else None
    return column_expr(rule, types, formats=fmts)


def _raw(table: SilverTable, name: str) -> Column:
    rule = table.columns.get(name)
    return raw_source(rule) if rule is not None else sf.clean_text(col(name))


def _shown(table: SilverTable, name: str) -> list[tuple[str, Column]]:
    """Source values behind a column, labelled with their bronze names (for error samples)."""
    rule = table.columns.get(name)
    if rule is None:
        return [(name, sf.clean_text(col(name)))]
    out = [(rule.source or name, raw_source(rule))]
    if rule.time_source:
        out.append((rule.time_source, sf.clean_text(col(rule.time_source))))
    return out


def _readable(table: SilverTable, name: str, types: Mapping) -> Column:
    rule = table.columns.get(name)
    return readable(rule, types) if rule is not None and rule.type in _DATETIME else F.lit(True)


def _check_columns(table: SilverTable, check: Check, types: Mapping) -> tuple[Column, Column, Column, Column]:
    """(available, agrees, sample text, unreadable) for one check.

    A row is available when the evidence is present and every judged datetime value parses
    under at least one of its formats; a present value that parses under none is unreadable
    and judges nothing (its row is quarantined by its own reasons).
    """
    ev, assign = check.evidence, dict(check.assignment)
    if ev.kind == EvidenceKind.WEEKDAY:
        column, weekday = _named(ev, "column"), _named(ev, "weekday_column")
        stated = col(weekday) if weekday not in table.columns else _value(table, weekday, types, assign)
        present = _raw(table, column).isNotNull() & sf.weekday_number(stated, ev.style).isNotNull()
        readable_ = _readable(table, column, types)
        agrees = F.coalesce(
            sf.weekday_matches(_value(table, column, types, assign), stated, ev.style), F.lit(False)
        )
        shown = _shown(table, column) + [(weekday, stated.cast("string"))]
    else:
        start_col, end_col = _named(ev, "start"), _named(ev, "end")
        start, end = _value(table, start_col, types, assign), _value(table, end_col, types, assign)
        present = _raw(table, start_col).isNotNull() & _raw(table, end_col).isNotNull()
        readable_ = _readable(table, start_col, types) & _readable(table, end_col, types)
        shown = _shown(table, start_col) + _shown(table, end_col)
        if ev.kind == EvidenceKind.ORDER:
            agrees = F.coalesce(end >= start, F.lit(False))
        else:
            duration_col = _named(ev, "duration_column")
            dur_rule = table.columns.get(duration_col)
            dur = (
                _value(table, duration_col, types, assign)
                if dur_rule is not None and dur_rule.type == ColumnType.DURATION
                else sf.parse_duration_seconds(col(duration_col))
            )
            present = present & dur.isNotNull()
            gap = F.unix_seconds(end) - F.unix_seconds(start) - dur
            agrees = F.coalesce(F.abs(gap) <= ev.tolerance_seconds, F.lit(False))
            shown += _shown(table, duration_col)
    sample = F.concat_ws(" | ", *[F.concat(F.lit(f"{n}="), F.coalesce(v, F.lit("null"))) for n, v in shown])
    available = present & readable_
    return available, available & agrees, sample, present & ~readable_


def evidence_summary(df: DataFrame, table: SilverTable) -> DataFrame | None:
    """Per source file and check: rows with evidence, rows agreeing, two disagreeing samples.

    One aggregation over ``df`` (bronze rows, malformed ones excluded by the caller).
    Columns: ``_source_file``, ``evidence``, ``kind``, ``columns``, ``variant``
    (``configured`` or ``col=candidate,...``), ``checked`` (rows with evidence whose values
    parse under at least one format), ``agreed``, ``unreadable`` (rows with evidence whose
    values parse under none: not counted for or against any format), ``samples``
    (array<string>), ``min_agreement``. ``None`` when the table has no evidence rules.

    Example:
        >>> evidence_summary(bronze, cfg.silver["chat"]).show()
        # _source_file | evidence | ... | checked | agreed
    """
    checks = plan(table)
    if not checks:
        return None
    types = {f.name: f.dataType for f in df.schema.fields}
    file_col = col("_source_file") if "_source_file" in df.columns else F.lit(None).cast("string")
    aggs = []
    for i, check in enumerate(checks):
        available, agrees, sample, unreadable = _check_columns(table, check, types)
        bad = F.when(available & ~agrees, sample)
        aggs += [
            F.sum(F.when(available, 1).otherwise(0)).cast("long").alias(f"c{i}"),
            F.sum(F.when(agrees, 1).otherwise(0)).cast("long").alias(f"a{i}"),
            F.sum(F.when(unreadable, 1).otherwise(0)).cast("long").alias(f"u{i}"),
            F.min(bad).alias(f"s{i}"),
            F.max(bad).alias(f"t{i}"),
        ]
    per_file = df.groupBy(file_col.alias("_source_file")).agg(*aggs)
    rows = F.array(
        *[
            F.struct(
                F.lit(c.evidence.name).alias("evidence"),
                F.lit(c.evidence.kind.value).alias("kind"),
                F.lit(",".join(dict.fromkeys(c.subjects))).alias("columns"),
                F.lit(c.variant).alias("variant"),
                F.coalesce(F.col(f"c{i}"), F.lit(0)).alias("checked"),
                F.coalesce(F.col(f"a{i}"), F.lit(0)).alias("agreed"),
                F.coalesce(F.col(f"u{i}"), F.lit(0)).alias("unreadable"),
                F.array_distinct(F.array_compact(F.array(F.col(f"s{i}"), F.col(f"t{i}")))).alias("samples"),
                F.lit(float(c.evidence.min_agreement)).alias("min_agreement"),
            )
            for i, c in enumerate(checks)
        ]
    )
    return per_file.select("_source_file", F.inline(rows))


def _ratio(row: Mapping) -> float:
    return row["agreed"] / row["checked"] if row["checked"] else 0.0


def _refutes(row: Mapping) -> bool:
    """A rule refutes the formats under test in a file: too few of the readable rows agree,
    or rows carry evidence but not one of their values parses under any format."""
    if row["checked"]:
        return _ratio(row) < row["min_agreement"]
    return bool(row.get("unreadable"))


@dataclass(frozen=True)
class Refusal:
    """A file the evidence refuses: every reading is refuted, or it cannot choose between two.

    ``reason`` is ``format_refuted:<evidence rule>`` or ``format_ambiguous:<columns>``: the
    quarantine reason of every row of the file (``on_refuted: quarantine``).
    """

    table: str
    file: str | None
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    """What the evidence decided for one batch: the candidate chosen per column and file,
    and the files refused."""

    choices: dict[str, dict[str | None, int]]
    refused: tuple[Refusal, ...] = ()


def _describe(table: SilverTable, row: Mapping, formats: Sequence[str]) -> str:
    if row["checked"]:
        found = f"{row['agreed']} of {row['checked']} readable rows agree (need {row['min_agreement']:.0%})"
    else:
        found = "no value with evidence parses under any format"
    if row.get("unreadable"):
        found += f"; {row['unreadable']} unreadable rows not counted"
    return (
        f"silver table {table.name!r}: column {row['columns']!r} read with formats {list(formats)} "
        f"is refuted by evidence {row['evidence']!r} ({row['kind']}) in file {row['_source_file']!r}: "
        f"{found}; samples: {list(row['samples'] or [])}"
    )


def decide(table: SilverTable, rows: Iterable[Row | Mapping[str, Any]]) -> Decision:
    """Read the collected summary: the candidate chosen per column and file, and the files refused.

    Only readable rows judge (``checked``). Configured formats (no candidates) must reach
    ``min_agreement`` in every file. For candidate columns, per file, the joint choice of
    candidates under which every rule reaches ``min_agreement`` wins. A file is refused when
    a rule refutes its configured formats, when no candidate choice survives
    (``format_refuted:<rule>``, the rule that refuted the best-agreeing choice), or when two
    choices agree equally or nothing judges between them (``format_ambiguous:<columns>``).
    What happens to a refused file is the table's ``on_refuted`` policy
    (:func:`lake.silver.build.check_evidence`).

    Returns:
        a :class:`Decision`; ``choices`` is ``{column: {source_file: candidate_index}}``.

    Example:
        >>> decide(table, evidence_summary(bronze, table).collect()).choices
        {'started_at': {'/landing/UraTelefonica.jsonl': 0}}
    """
    records = [r.asDict() if isinstance(r, Row) else dict(r) for r in rows]
    by_file: dict[str | None, list[dict]] = {}
    for r in records:
        by_file.setdefault(r["_source_file"], []).append(r)
    cands = candidate_columns(table)
    choices: dict[str, dict[str | None, int]] = {c: {} for c in cands}
    refused: list[Refusal] = []
    for file, frows in sorted(by_file.items(), key=lambda kv: str(kv[0])):
        configured = [r for r in frows if r["variant"] == CONFIGURED and _refutes(r)]
        if configured:
            r = configured[0]
            first = r["columns"].split(",")[0]
            refused.append(
                Refusal(
                    table.name,
                    file,
                    f"format_refuted:{r['evidence']}",
                    _describe(table, r, rule_formats(table.columns[first])),
                )
            )
            continue
        if not cands:
            continue
        scored, failed = [], []
        for combo in itertools.product(*[range(len(table.columns[c].candidates)) for c in cands]):
            assign = dict(zip(cands, combo))
            relevant = [
                r
                for r in frows
                if r["variant"] != CONFIGURED
                and all(assign[c] == int(i) for c, i in (p.split("=") for p in r["variant"].split(",")))
            ]
            agreed = sum(r["agreed"] for r in relevant)
            checked = sum(r["checked"] for r in relevant)
            refuting = [r for r in relevant if _refutes(r)]
            if refuting:
                failed.append((agreed / checked if checked else 0.0, refuting[0]["evidence"]))
            elif checked:
                scored.append((agreed / checked, assign))
        label = ", ".join(cands)
        if not scored:
            samples = [s for r in frows for s in (r["samples"] or [])][:4]
            failed.sort(key=lambda f: -f[0])
            reason = f"format_refuted:{failed[0][1]}" if failed else f"format_ambiguous:{label}"
            refused.append(
                Refusal(
                    table.name,
                    file,
                    reason,
                    (
                        f"silver table {table.name!r}: no candidate format of {label} is supported by the "
                        f"evidence in file {file!r} (candidates: "
                        f"{ {c: [list(x) for x in table.columns[c].candidates] for c in cands} }); samples: {samples}"
                    ),
                )
            )
            continue
        scored.sort(key=lambda s: -s[0])
        if len(scored) > 1 and scored[0][0] == scored[1][0]:
            tied = [
                {c: list(table.columns[c].candidates[i]) for c, i in s[1].items()}
                for s in scored
                if s[0] == scored[0][0]
            ]
            refused.append(
                Refusal(
                    table.name,
                    file,
                    f"format_ambiguous:{label}",
                    (
                        f"silver table {table.name!r}: the evidence in file {file!r} is ambiguous for {label}: "
                        f"candidates {tied} agree equally ({scored[0][0]:.0%})"
                    ),
                )
            )
            continue
        for c, i in scored[0][1].items():
            choices[c][file] = i
    return Decision(choices, tuple(refused))
