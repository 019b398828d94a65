"""YAML configuration loaded once into validated, frozen dataclasses.

The committed base (``conf/lake.yml``) is overlaid by an optional git-ignored local file
beside it (``conf/lake.local.yml``): mappings merge key by key, anything else replaces.
``${VAR}`` and ``${VAR:-default}`` are replaced from the environment; an unset variable
without a default is an error naming the file and key. Unknown keys, missing keys and
values of the wrong type are rejected with the file and the key path, e.g.::

    conf/lake.yml: sources.ura.format: expected one of 'json', 'csv'; found 'xml'

Example:
    >>> from lake.config import load_config
    >>> cfg = load_config("conf/lake.yml")
    >>> cfg.sources["ura"].format.value
    'json'
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lake.errors import ConfigError

#: The zone of every source timestamp and of printed answers unless ``lake.timezone`` says
#: otherwise (the one definition: sessions, gold and the CLI take it from here or the config).
DEFAULT_TIMEZONE = "America/Sao_Paulo"

DEFAULT_CONFIG = "conf/lake.yml"


# --------------------------------------------------------------------------- vocabularies


class Pipeline(str, enum.Enum):
    CUSTOMER_EXPERIENCE = "customer_experience"
    COOPERATIVE = "cooperative"


class Layer(str, enum.Enum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


class FileFormat(str, enum.Enum):
    JSON = "json"
    CSV = "csv"


class JsonShape(str, enum.Enum):
    AUTO = "auto"
    LINES = "lines"
    OBJECT = "object"
    ARRAY = "array"


class ChangeDetection(str, enum.Enum):
    """How a JDBC source's changed and deleted rows are found (docs/databases.md)."""

    #: new rows only, by ``incremental_column`` (or the whole table re-read when it is unset)
    APPEND = "append"
    #: rows whose ``change_column`` grew since the last mark are re-read (no deletes)
    CHANGE_COLUMN = "change_column"
    #: the whole table compared with bronze's latest state by key and row hash
    SNAPSHOT = "snapshot"


class DriftPolicy(str, enum.Enum):
    FAIL = "fail"
    RESCUE = "rescue"
    EVOLVE = "evolve"


class Action(str, enum.Enum):
    WARN = "warn"
    DROP = "drop"
    QUARANTINE = "quarantine"
    FAIL = "fail"


class ColumnType(str, enum.Enum):
    STRING = "string"
    TEXT = "text"
    NAME = "name"
    EMAIL = "email"
    TIMESTAMP = "timestamp"
    #: A naive wall-clock date-time (``TIMESTAMP_NTZ``): never interpreted in any zone.
    TIMESTAMP_NTZ = "timestamp_ntz"
    DATE = "date"
    DURATION = "duration"
    BOOLEAN = "boolean"
    PHONE = "phone"
    INTEGER = "integer"
    LONG = "long"
    DECIMAL = "decimal"
    DIGITS = "digits"


class Whitespace(str, enum.Enum):
    """What a ``text`` or ``name`` column does with whitespace (it is always trimmed)."""

    TRIM = "trim"  # leading and trailing whitespace removed; the inside kept as given
    COLLAPSE = "collapse"  # also: runs of spaces, tabs, no-break spaces -> one space; line breaks kept
    SINGLE_LINE = "single_line"  # also: every run of whitespace, line breaks included -> one space


#: Column types that take ``whitespace``.
TEXT_TYPES = (ColumnType.TEXT, ColumnType.NAME)

#: Pattern letters that read a zone or an offset: a naive column's formats must not hold them.
ZONE_PATTERN_LETTERS = "VzOXxZ"


class EvidenceKind(str, enum.Enum):
    WEEKDAY = "weekday"
    DURATION = "duration"
    ORDER = "order"


class RefutedPolicy(str, enum.Enum):
    """What a silver table does with a file whose format evidence refutes every reading."""

    QUARANTINE = "quarantine"  # every row of the file to quarantine; the run goes on
    FAIL = "fail"  # the run stops with QualityError


class WeekdayStyle(str, enum.Enum):
    NAME = "name"  # Monday .. Sunday (English) or segunda .. domingo (Portuguese)
    ISO = "iso"  # 1 = Monday .. 7 = Sunday
    SUNDAY1 = "sunday1"  # 1 = Sunday .. 7 = Saturday


class CardNumberMode(str, enum.Enum):
    AS_STORED = "as_stored"
    MASK = "mask"
    HASH = "hash"


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "utf-8"
    header: bool = True
    line_sep: str | None = None  # None: LF and CRLF are both accepted


@dataclass(frozen=True)
class FileSource:
    """A landing-folder source (one channel): files found by name pattern."""

    pipeline: Pipeline
    patterns: tuple[str, ...]
    format: FileFormat
    columns: tuple[str, ...]
    json_shape: JsonShape = JsonShape.AUTO
    csv: CsvOptions = CsvOptions()
    drift: DriftPolicy = DriftPolicy.RESCUE
    dedupe_content: bool = True
    name: str = ""


@dataclass(frozen=True)
class JdbcSource:
    """A table read over JDBC from the pipeline's database."""

    pipeline: Pipeline
    table: str
    columns: tuple[str, ...]
    partition_column: str | None = None
    num_partitions: int = 2
    fetch_size: int = 10000
    incremental_column: str | None = None
    #: Spark SQL type per column (e.g. ``decimal(10,2)``); columns absent keep the JDBC type.
    types: dict[str, str] = field(default_factory=dict)
    #: primary key of the table (``_row_id``); default: the first column.
    key: tuple[str, ...] = ()
    #: how updates and deletes at the source are found (:class:`ChangeDetection`)
    change_detection: ChangeDetection = ChangeDetection.APPEND
    #: with ``change_detection: change_column``: the column the source bumps on every change
    change_column: str | None = None
    name: str = ""

    @property
    def mark_column(self) -> str | None:
        """The column whose high-water mark is kept between runs (None: no mark)."""
        if self.change_detection == ChangeDetection.CHANGE_COLUMN:
            return self.change_column
        if self.change_detection == ChangeDetection.SNAPSHOT:
            return None
        return self.incremental_column

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The key (``key``, default the first column)."""
        return tuple(self.key) or (self.columns[0],)


@dataclass(frozen=True)
class JdbcConnection:
    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    driver: str | None = None


@dataclass(frozen=True)
class ColumnRule:
    """How one silver column is built from bronze columns.

    ``source`` is the bronze column (or, for ``timestamp`` with ``time_source``, the date
    part). ``formats`` is the ordered list of datetime patterns tried; ``candidates`` is a
    list of alternative format lists among which the evidence picks, per file.
    ``whitespace`` (``text`` and ``name`` only; default ``trim``) says whether inner
    whitespace is collapsed (:class:`Whitespace`).
    """

    type: ColumnType
    source: str | None = None
    expr: str | None = None
    formats: tuple[str, ...] = ()
    candidates: tuple[tuple[str, ...], ...] = ()
    time_source: str | None = None
    area_code_source: str | None = None
    precision: int = 18
    scale: int = 2
    reason: bool = False
    whitespace: Whitespace | None = None


@dataclass(frozen=True)
class Expectation:
    name: str
    expr: str
    action: Action = Action.QUARANTINE


@dataclass(frozen=True)
class Evidence:
    """A check that confirms the datetime format configured for a column.

    ``weekday``: ``column``'s weekday must equal ``weekday_column`` (``style``).
    ``duration``: ``end - start`` must equal the seconds of ``duration_column``.
    ``order``: ``end`` must not be before ``start``.
    """

    name: str
    kind: EvidenceKind
    column: str | None = None
    weekday_column: str | None = None
    style: WeekdayStyle = WeekdayStyle.NAME
    start: str | None = None
    end: str | None = None
    duration_column: str | None = None
    tolerance_seconds: int = 60
    min_agreement: float = 0.95


@dataclass(frozen=True)
class Reference:
    """A join from a silver table to a parent silver table, for referential expectations.

    Each row gets a struct column named ``alias`` (default: the parent's name) holding
    ``found`` (a row of the current silver parent matches ``join``), the parent's
    ``columns`` (null when none matches) and, with ``with_quarantine``, ``quarantined_for``
    (the rules the parent key is quarantined for; empty when it is not). The referential
    rules are ordinary expectations over it, e.g. ``conta.found`` or
    ``NOT conta.found OR id_associado <=> conta.id_associado``.
    """

    table: str
    #: this table's column -> the parent's column; the parent columns are the parent's keys
    join: dict[str, str]
    columns: tuple[str, ...] = ()
    alias: str | None = None
    with_quarantine: bool = False

    @property
    def name(self) -> str:
        """The struct column the join adds."""
        return self.alias or self.table


#: Fields of a reference's struct column besides the parent's columns.
REFERENCE_FIELDS = ("found", "quarantined_for")


@dataclass(frozen=True)
class SilverTable:
    source: str
    pipeline: Pipeline
    keys: tuple[str, ...]
    columns: dict[str, ColumnRule]
    channel: str | None = None
    expectations: tuple[Expectation, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    on_refuted: RefutedPolicy = RefutedPolicy.QUARANTINE
    #: joins to parent silver tables that referential expectations read (:class:`Reference`)
    references: tuple[Reference, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class ExportOptions:
    card_number: CardNumberMode = CardNumberMode.AS_STORED
    hash_key_env: str = "LAKE_CARD_HASH_KEY"
    file_name: str = "movimento_flat.csv"


@dataclass(frozen=True)
class Channel:
    """A customer-experience channel (``channels.<name>``; docs/configuration.md, "How to
    add a channel"). Silver tables name it in ``channel:``; gold keys and ranks it.

    ``key`` is the channel's fixed ``dim_channel.channel_key`` (facts keep it: never reuse or
    change it). ``priority`` breaks ties in ``last_interaction`` (1 first).
    ``customer_attributes_first``: the customer's name, phone and state are taken from such
    a channel first (the latest non-null value), else from any channel.
    """

    key: int
    priority: int
    customer_attributes_first: bool = False
    name: str = ""


#: ``dim_channel.priority`` of the unknown channel (key ``-1``): after every configured one.
UNKNOWN_CHANNEL_PRIORITY = 99


@dataclass(frozen=True)
class LakeSettings:
    root: str = "lake-data"
    landing: str = "data/landing"
    output_dir: str = "output"
    timezone: str = DEFAULT_TIMEZONE
    #: a step that reads less than this many MiB (new files, changes, tables read whole) runs
    #: its queries without generated code (:func:`lake.session.sized_for`); 0: never
    small_step_mib: float = 2.0
    #: after a run, a table it wrote that holds at least this many files, averaging under
    #: :data:`lake.delta_io.SMALL_FILE_BYTES`, is compacted (:func:`lake.delta_io.compact`); 0: never
    compact_min_files: int = 50
    #: how many independent steps of a run (its pipelines, a pipeline's bronze sources, silver
    #: tables that reference none of each other) run at once on the driver
    #: (:func:`lake.parallel.side_by_side`); 1: one after the other
    parallel_steps: int = 2


@dataclass(frozen=True)
class LakeConfig:
    lake: LakeSettings
    jdbc: JdbcConnection
    sources: dict[str, FileSource | JdbcSource]
    silver: dict[str, SilverTable]
    export: ExportOptions = ExportOptions()
    #: the customer-experience channels by name (:class:`Channel`)
    channels: dict[str, Channel] = field(default_factory=dict)
    file: str = ""

    def file_sources(self, pipeline: Pipeline | None = None) -> list[FileSource]:
        return [
            s
            for s in self.sources.values()
            if isinstance(s, FileSource) and (pipeline is None or s.pipeline == pipeline)
        ]

    def jdbc_sources(self, pipeline: Pipeline | None = None) -> list[JdbcSource]:
        return [
            s
            for s in self.sources.values()
            if isinstance(s, JdbcSource) and (pipeline is None or s.pipeline == pipeline)
        ]

    def silver_tables(self, pipeline: Pipeline | None = None) -> list[SilverTable]:
        return [t for t in self.silver.values() if pipeline is None or t.pipeline == pipeline]

    def with_overrides(self, **lake_settings: Any) -> LakeConfig:
        """Copy with some ``lake:`` settings replaced (None values are ignored)."""
        changes = {k: v for k, v in lake_settings.items() if v is not None}
        return dataclasses.replace(self, lake=dataclasses.replace(self.lake, **changes))


# --------------------------------------------------------------------------- loading

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any, file: str, path: str) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, file, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, file, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            raise ConfigError(file, path, f"environment variable {var} is not set")

        return _ENV.sub(repl, value)
    return value


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return over


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    origin = typing.get_origin(tp)
    if origin in (tuple, list):
        return "a list"
    if origin is dict:
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, file: str, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, file, path)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[-1] if len(errors) == 1 else ConfigError(file, path, f"unexpected value {value!r}")
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, file, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(file, path, f"expected {_type_name(tp)}; found {value!r}") from None
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(file, path, f"expected a list; found {value!r}")
        (inner, *_rest) = typing.get_args(tp)
        return tuple(_convert(inner, v, file, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(file, path, f"expected a mapping; found {value!r}")
        _k, inner = typing.get_args(tp)
        return {str(k): _convert(inner, v, file, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(file, path, f"expected true or false; found {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ConfigError(file, path, f"expected an integer; found {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(file, path, f"expected a number; found {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(file, path, f"expected a string; found {value!r}")
    raise ConfigError(file, path, f"unsupported type {tp!r}")  # pragma: no cover


def _derived() -> dict[type, tuple[str, ...]]:
    # Fields filled from the mapping key or by the loader, never written in YAML.
    return {
        FileSource: ("name",),
        JdbcSource: ("name",),
        SilverTable: ("name",),
        Channel: ("name",),
        LakeConfig: ("file",),
    }


def _build(cls: Any, data: Any, file: str, path: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file, path or "(top level)", f"expected a mapping; found {data!r}")
    hints = typing.get_type_hints(cls)
    derived = _derived().get(cls, ())
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in derived}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        key = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ConfigError(file, key, f"unknown key (expected one of: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{path}.{name}" if path else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], file, key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(file, key, "missing required key")
    return cls(**kwargs)


def _read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            # libyaml's C loader when present: the pure-Python one costs a tenth of a second,
            # a large share of `lake query`'s one-second budget.
            return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"invalid YAML: {exc}") from exc


def local_layer_path(path: str | os.PathLike[str]) -> Path:
    """``conf/lake.yml`` -> ``conf/lake.local.yml`` (git-ignored overrides)."""
    p = Path(path)
    return p.with_name(p.stem + ".local" + p.suffix)


def _source_class(file: str, key: str, raw: Any) -> type:
    if not isinstance(raw, dict):
        raise ConfigError(file, key, f"expected a mapping; found {raw!r}")
    kind = raw.get("kind")
    if kind == "files":
        return FileSource
    if kind == "jdbc":
        return JdbcSource
    raise ConfigError(file, f"{key}.kind", f"expected one of 'files', 'jdbc'; found {kind!r}")


def parse_config(raw: Any, file: str) -> LakeConfig:
    """Validate an already-merged mapping (as read from ``file``) into a :class:`LakeConfig`."""
    if not isinstance(raw, dict):
        raise ConfigError(file, "(top level)", f"expected a mapping; found {raw!r}")
    raw = _interpolate(raw, file, "")
    allowed = {"lake", "jdbc", "sources", "silver", "export", "channels"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(file, unknown[0], f"unknown key (expected one of: {', '.join(sorted(allowed))})")
    for required in ("jdbc", "sources", "silver"):
        if required not in raw:
            raise ConfigError(file, required, "missing required key")
    lake = _build(LakeSettings, raw.get("lake"), file, "lake")
    if lake.small_step_mib < 0:
        raise ConfigError(file, "lake.small_step_mib", f"must be 0 or more; found {lake.small_step_mib}")
    if (
        isinstance(lake.compact_min_files, bool)
        or not isinstance(lake.compact_min_files, int)
        or (lake.compact_min_files < 0)
    ):
        raise ConfigError(
            file,
            "lake.compact_min_files",
            f"must be a whole number, 0 or more; found {lake.compact_min_files!r}",
        )
    if (
        isinstance(lake.parallel_steps, bool)
        or not isinstance(lake.parallel_steps, int)
        or lake.parallel_steps < 1
    ):
        raise ConfigError(
            file, "lake.parallel_steps", f"must be a whole number, 1 or more; found {lake.parallel_steps!r}"
        )
    jdbc = _build(JdbcConnection, raw["jdbc"], file, "jdbc")
    export = _build(ExportOptions, raw.get("export"), file, "export")
    channels = _channels(raw.get("channels"), file)
    if not isinstance(raw["sources"], dict):
        raise ConfigError(file, "sources", "expected a mapping of source name to source")
    sources: dict[str, FileSource | JdbcSource] = {}
    for name, body in raw["sources"].items():
        key = f"sources.{name}"
        cls = _source_class(file, key, body)
        body = {k: v for k, v in body.items() if k != "kind"}
        src = _build(cls, body, file, key)
        sources[str(name)] = dataclasses.replace(src, name=str(name))
        if not src.columns:
            raise ConfigError(file, f"{key}.columns", "at least one column is required")
        if isinstance(src, JdbcSource):
            _check_change_detection(src, file, key)
    if not isinstance(raw["silver"], dict):
        raise ConfigError(file, "silver", "expected a mapping of table name to table")
    silver: dict[str, SilverTable] = {}
    for name, body in raw["silver"].items():
        key = f"silver.{name}"
        table = dataclasses.replace(_build(SilverTable, body, file, key), name=str(name))
        if table.source not in sources:
            raise ConfigError(file, f"{key}.source", f"unknown source {table.source!r}")
        if table.channel is not None and table.channel not in channels:
            configured = ", ".join(sorted(channels)) or "none"
            raise ConfigError(
                file, f"{key}.channel", f"unknown channel {table.channel!r} (channels: {configured})"
            )
        for col in table.keys:
            if col not in table.columns:
                raise ConfigError(file, f"{key}.keys", f"key {col!r} is not one of the table's columns")
        for cname, rule in table.columns.items():
            if rule.source is None and rule.expr is None:
                raise ConfigError(file, f"{key}.columns.{cname}", "needs 'source' or 'expr'")
            if rule.type in (ColumnType.TIMESTAMP, ColumnType.TIMESTAMP_NTZ, ColumnType.DATE) and not (
                rule.formats or rule.candidates
            ):
                raise ConfigError(
                    file, f"{key}.columns.{cname}.formats", "a datetime column needs formats or candidates"
                )
            if rule.whitespace is not None and rule.type not in TEXT_TYPES:
                raise ConfigError(
                    file,
                    f"{key}.columns.{cname}.whitespace",
                    f"only a text or name column takes whitespace; this one is {rule.type.value!r}",
                )
            if rule.type == ColumnType.TIMESTAMP_NTZ:
                for fmt in [*rule.formats, *[f for c in rule.candidates for f in c]]:
                    if any(letter in _pattern_letters(fmt) for letter in ZONE_PATTERN_LETTERS):
                        raise ConfigError(
                            file,
                            f"{key}.columns.{cname}.formats",
                            f"a timestamp_ntz column is naive; format {fmt!r} reads a zone or offset",
                        )
        _check_references(table, silver, set(map(str, raw["silver"])), file, key)
        silver[str(name)] = table
    return LakeConfig(
        lake=lake, jdbc=jdbc, sources=sources, silver=silver, export=export, channels=channels, file=file
    )


def _channels(raw: Any, file: str) -> dict[str, Channel]:
    """``channels:``: unique positive keys, unique priorities ranked before the unknown channel."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(file, "channels", "expected a mapping of channel name to channel")
    channels: dict[str, Channel] = {}
    keys: dict[int, str] = {}
    priorities: dict[int, str] = {}
    for name, body in raw.items():
        key = f"channels.{name}"
        channel = dataclasses.replace(_build(Channel, body, file, key), name=str(name))
        if channel.name == "unknown":
            raise ConfigError(file, key, "'unknown' is the name of dim_channel's unknown member")
        if channel.key < 1:
            raise ConfigError(file, f"{key}.key", f"expected a positive integer; found {channel.key}")
        if channel.key in keys:
            raise ConfigError(
                file, f"{key}.key", f"key {channel.key} is also channel {keys[channel.key]!r}'s"
            )
        if not 1 <= channel.priority < UNKNOWN_CHANNEL_PRIORITY:
            raise ConfigError(
                file,
                f"{key}.priority",
                f"expected 1 to {UNKNOWN_CHANNEL_PRIORITY - 1}; found {channel.priority}",
            )
        if channel.priority in priorities:
            raise ConfigError(
                file,
                f"{key}.priority",
                f"priority {channel.priority} is also channel {priorities[channel.priority]!r}'s",
            )
        keys[channel.key] = priorities[channel.priority] = channel.name
        channels[channel.name] = channel
    return channels


def _check_change_detection(src: JdbcSource, file: str, key: str) -> None:
    mode = src.change_detection
    if mode == ChangeDetection.CHANGE_COLUMN and not src.change_column:
        raise ConfigError(
            file, f"{key}.change_column", "change_detection: change_column needs the column's name"
        )
    if mode != ChangeDetection.CHANGE_COLUMN and src.change_column:
        raise ConfigError(
            file,
            f"{key}.change_column",
            f"only read with change_detection: change_column; this source uses {mode.value!r}",
        )
    if mode != ChangeDetection.APPEND and src.incremental_column:
        raise ConfigError(
            file, f"{key}.incremental_column", f"not used with change_detection: {mode.value} (remove it)"
        )
    if mode == ChangeDetection.SNAPSHOT:
        missing = [k for k in src.key_columns if k not in src.columns]
        if missing:
            raise ConfigError(
                file, f"{key}.key", f"key column {missing[0]!r} is not one of the source's columns"
            )


def _check_references(
    table: SilverTable, earlier: Mapping[str, SilverTable], every: set[str], file: str, key: str
) -> None:
    """A reference names a silver table defined before this one (so it is built first),
    joins on the parent's keys with columns both tables have, and adds a new column."""
    names: set[str] = set()
    for i, ref in enumerate(table.references):
        where = f"{key}.references[{i}]"
        parent = earlier.get(ref.table)
        if parent is None:
            why = "is not defined before this table" if ref.table in every else "is not a silver table"
            raise ConfigError(
                file,
                f"{where}.table",
                f"{ref.table!r} {why} (a parent must be a silver table defined before its children)",
            )
        for mine, theirs in ref.join.items():
            if mine not in table.columns:
                raise ConfigError(file, f"{where}.join", f"{mine!r} is not one of the table's columns")
            if theirs not in parent.columns:
                raise ConfigError(
                    file, f"{where}.join.{mine}", f"{theirs!r} is not a column of {ref.table!r}"
                )
        if sorted(ref.join.values()) != sorted(parent.keys):
            raise ConfigError(
                file,
                f"{where}.join",
                f"must map to the keys of {ref.table!r} ({', '.join(parent.keys)}); "
                f"found {', '.join(ref.join.values()) or 'none'}",
            )
        for c in ref.columns:
            if c not in parent.columns:
                raise ConfigError(file, f"{where}.columns", f"{c!r} is not a column of {ref.table!r}")
            if c in REFERENCE_FIELDS:
                raise ConfigError(
                    file, f"{where}.columns", f"{c!r} is a field every reference adds; it cannot be copied"
                )
        if ref.name in table.columns or ref.name in names:
            raise ConfigError(
                file, f"{where}.alias", f"{ref.name!r} is already a column or reference of the table"
            )
        names.add(ref.name)


def _pattern_letters(fmt: str) -> str:
    """The pattern letters of a datetime format (quoted literals removed)."""
    return re.sub(r"'[^']*'", "", fmt)


def load_config(path: str | os.PathLike[str] | None = None) -> LakeConfig:
    """Load ``path`` (default ``$LAKE_CONFIG`` or ``conf/lake.yml``) and its local layer."""
    path = Path(path or os.environ.get("LAKE_CONFIG") or DEFAULT_CONFIG)
    raw = _read_yaml(path)
    local = local_layer_path(path)
    file = str(path)
    if local.exists():
        raw = _merge(raw, _read_yaml(local))
        file = f"{path} (+ {local.name})"
    return parse_config(raw, file)
