"""Format evidence: prove, per source file, that each datetime column is read the right way.

``01/08/2019`` reads as 8 January or 1 August; nothing in the string tells. The files carry
evidence that does: a weekday column, a duration that must equal end minus start, an end
that must not precede its start. :func:`evidence_summary` measures, per file and per
evidence rule, on how many rows the reading agrees with the evidence (one aggregation, no
collect). :func:`decide` reads that tiny summary (the orchestrator collects it) and either
confirms the configured formats, picks per file the candidate format list the evidence
supports, or raises :class:`~lake.errors.QualityError`: a wrong reading is never loaded
silently.

A row counts as evidence when the raw datetime text and the evidence value are present; it
agrees when the text parses with the formats under test *and* matches the evidence, so a
format that does not parse the values at all is refuted too.

Example:
    >>> summary = evidence_summary(bronze, cfg.silver["ura"])
    >>> choices = decide(cfg.silver["ura"], summary.collect())   # raises on a refuted format
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lake.config import ColumnType, EvidenceKind, Evidence, SilverTable
from lake.errors import QualityError
from lake.silver import functions as sf
from lake.silver.columns import col, column_expr, raw_source, rule_formats

CONFIGURED = "configured"
_DATETIME = (ColumnType.TIMESTAMP, ColumnType.DATE)


@dataclass(frozen=True)
class Check:
    """One evidence rule evaluated under one assignment of candidate formats."""

    evidence: Evidence
    subjects: tuple[str, ...]  # datetime columns the rule judges
    assignment: tuple[tuple[str, int], ...]  # (column, candidate index) for candidate columns

    @property
    def variant(self) -> str:
        return ",".join(f"{c}={i}" for c, i in self.assignment) or CONFIGURED


def _subjects(ev: Evidence) -> tuple[str, ...]:
    if ev.kind == EvidenceKind.WEEKDAY:
        return (ev.column,)
    return (ev.start, ev.end)


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


def _check_columns(table: SilverTable, check: Check, types: Mapping) -> tuple[Column, Column, Column]:
    """(available, agrees, sample text) for one check."""
    ev, assign = check.evidence, dict(check.assignment)
    if ev.kind == EvidenceKind.WEEKDAY:
        stated = col(ev.weekday_column) if ev.weekday_column not in table.columns else _value(table, ev.weekday_column, types, assign)
        available = _raw(table, ev.column).isNotNull() & sf.weekday_number(stated, ev.style).isNotNull()
        agrees = F.coalesce(sf.weekday_matches(_value(table, ev.column, types, assign), stated, ev.style), F.lit(False))
        shown = _shown(table, ev.column) + [(ev.weekday_column, stated.cast("string"))]
    else:
        start, end = _value(table, ev.start, types, assign), _value(table, ev.end, types, assign)
        available = _raw(table, ev.start).isNotNull() & _raw(table, ev.end).isNotNull()
        shown = _shown(table, ev.start) + _shown(table, ev.end)
        if ev.kind == EvidenceKind.ORDER:
            agrees = F.coalesce(end >= start, F.lit(False))
        else:
            dur_rule = table.columns.get(ev.duration_column)
            dur = (
                _value(table, ev.duration_column, types, assign)
                if dur_rule is not None and dur_rule.type == ColumnType.DURATION
                else sf.parse_duration_seconds(col(ev.duration_column))
            )
            available = available & dur.isNotNull()
            gap = F.unix_seconds(end) - F.unix_seconds(start) - dur
            agrees = F.coalesce(F.abs(gap) <= ev.tolerance_seconds, F.lit(False))
            shown += _shown(table, ev.duration_column)
    sample = F.concat_ws(" | ", *[F.concat(F.lit(f"{n}="), F.coalesce(v, F.lit("null"))) for n, v in shown])
    return available, available & agrees, sample


def evidence_summary(df: DataFrame, table: SilverTable) -> DataFrame | None:
    """Per source file and check: rows with evidence, rows agreeing, two disagreeing samples.

    One aggregation over ``df`` (bronze rows, malformed ones excluded by the caller).
    Columns: ``_source_file``, ``evidence``, ``kind``, ``columns``, ``variant``
    (``configured`` or ``col=candidate,...``), ``checked``, ``agreed``, ``samples``
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
        available, agrees, sample = _check_columns(table, check, types)
        bad = F.when(available & ~agrees, sample)
        aggs += [
            F.sum(F.when(available, 1).otherwise(0)).cast("long").alias(f"c{i}"),
            F.sum(F.when(agrees, 1).otherwise(0)).cast("long").alias(f"a{i}"),
            F.min(bad).alias(f"s{i}"),
            F.max(bad).alias(f"t{i}"),
        ]
    per_file = df.groupBy(file_col.alias("_source_file")).agg(*aggs)
    rows = F.array(*[
        F.struct(
            F.lit(c.evidence.name).alias("evidence"),
            F.lit(c.evidence.kind.value).alias("kind"),
            F.lit(",".join(dict.fromkeys(c.subjects))).alias("columns"),
            F.lit(c.variant).alias("variant"),
            F.coalesce(F.col(f"c{i}"), F.lit(0)).alias("checked"),
            F.coalesce(F.col(f"a{i}"), F.lit(0)).alias("agreed"),
            F.array_distinct(F.array_compact(F.array(F.col(f"s{i}"), F.col(f"t{i}")))).alias("samples"),
            F.lit(float(c.evidence.min_agreement)).alias("min_agreement"),
        )
        for i, c in enumerate(checks)
    ])
    return per_file.select("_source_file", F.inline(rows))


def _ratio(row: Mapping) -> float:
    return row["agreed"] / row["checked"] if row["checked"] else 0.0


def _describe(table: SilverTable, row: Mapping, formats: Sequence[str]) -> str:
    return (
        f"silver table {table.name!r}: column {row['columns']!r} read with formats {list(formats)} "
        f"is refuted by evidence {row['evidence']!r} ({row['kind']}) in file {row['_source_file']!r}: "
        f"{row['agreed']} of {row['checked']} rows agree (need {row['min_agreement']:.0%}); "
        f"samples: {list(row['samples'] or [])}"
    )


def decide(table: SilverTable, rows: Iterable[Mapping]) -> dict[str, dict[str | None, int]]:
    """Check the collected summary; return the candidate chosen per column and file.

    Configured formats (no candidates) must reach ``min_agreement`` on the rows where the
    evidence is available, in every file. For candidate columns, per file, the joint choice
    of candidates under which every rule reaches ``min_agreement`` wins; none, or two with
    the same agreement, raise.

    Returns:
        ``{column: {source_file: candidate_index}}`` for candidate columns.

    Raises:
        QualityError: naming the table, column, rule, file and sample values.

    Example:
        >>> decide(table, evidence_summary(bronze, table).collect())
        {'started_at': {'/landing/UraTelefonica.jsonl': 0}}
    """
    rows = [r.asDict() if hasattr(r, "asDict") else dict(r) for r in rows]
    by_file: dict[str | None, list[dict]] = {}
    for r in rows:
        by_file.setdefault(r["_source_file"], []).append(r)
    cands = candidate_columns(table)
    choices: dict[str, dict[str | None, int]] = {c: {} for c in cands}
    for file, frows in sorted(by_file.items(), key=lambda kv: str(kv[0])):
        for r in frows:
            if r["variant"] == CONFIGURED and r["checked"] and _ratio(r) < r["min_agreement"]:
                first = r["columns"].split(",")[0]
                raise QualityError(_describe(table, r, rule_formats(table.columns[first])))
        if not cands:
            continue
        scored = []
        for combo in itertools.product(*[range(len(table.columns[c].candidates)) for c in cands]):
            assign = dict(zip(cands, combo))
            relevant = [
                r for r in frows
                if r["variant"] != CONFIGURED
                and all(assign[c] == int(i) for c, i in (p.split("=") for p in r["variant"].split(",")))
            ]
            if not relevant or not any(r["checked"] for r in relevant):
                continue
            if all(r["checked"] and _ratio(r) >= r["min_agreement"] for r in relevant if r["checked"]):
                agreed = sum(r["agreed"] for r in relevant)
                checked = sum(r["checked"] for r in relevant)
                scored.append((agreed / checked, assign))
        label = ", ".join(cands)
        if not scored:
            samples = [s for r in frows for s in (r["samples"] or [])][:4]
            raise QualityError(
                f"silver table {table.name!r}: no candidate format of {label} is supported by the "
                f"evidence in file {file!r} (candidates: "
                f"{ {c: [list(x) for x in table.columns[c].candidates] for c in cands} }); samples: {samples}"
            )
        scored.sort(key=lambda s: -s[0])
        if len(scored) > 1 and scored[0][0] == scored[1][0]:
            tied = [{c: list(table.columns[c].candidates[i]) for c, i in s[1].items()} for s in scored if s[0] == scored[0][0]]
            raise QualityError(
                f"silver table {table.name!r}: the evidence in file {file!r} is ambiguous for {label}: "
                f"candidates {tied} agree equally ({scored[0][0]:.0%})"
            )
        for c, i in scored[0][1].items():
            choices[c][file] = i
    return choices
