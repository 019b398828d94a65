"""Config loading: validation errors name the file and the key path."""

from __future__ import annotations

import textwrap

import pytest

from lake.config import (
    Action,
    ColumnType,
    ConfigError,
    FileSource,
    JdbcSource,
    RefutedPolicy,
    Whitespace,
    load_config,
    local_layer_path,
)

BASE = textwrap.dedent(
    """
    lake:
      root: /tmp/lk
    jdbc:
      url: jdbc:sqlite:/tmp/x.db
      password: ${LAKE_TEST_SECRET}
    sources:
      ura:
        kind: files
        pipeline: customer_experience
        patterns: ["UraTelefonica*"]
        format: json
        columns: [data, email]
      movimento:
        kind: jdbc
        pipeline: cooperative
        table: movimento
        columns: [id]
    channels:
      phone: {key: 1, priority: 1, customer_attributes_first: true}
      chat: {key: 2, priority: 2}
    silver:
      ura:
        source: ura
        pipeline: customer_experience
        channel: phone
        keys: [interaction_id]
        columns:
          interaction_id: {type: string, source: _row_id}
          started_at: {type: timestamp, source: data, formats: ["MM/dd/yyyy"]}
        expectations:
          - {name: has_start, expr: "started_at IS NOT NULL", action: quarantine}
    """
)


def write(tmp_path, text, name="lake.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_committed_config_loads(monkeypatch):
    monkeypatch.delenv("LAKE_JDBC_URL", raising=False)
    cfg = load_config("conf/lake.yml")
    assert set(cfg.sources) >= {"ura", "chat", "whatsapp", "email", "associado", "conta", "cartao", "movimento"}
    assert cfg.jdbc.url.startswith("jdbc:sqlite:")
    assert isinstance(cfg.sources["ura"], FileSource)
    assert isinstance(cfg.sources["movimento"], JdbcSource)
    # today's channels: the committed config is their one definition
    assert {n: (c.key, c.priority, c.customer_attributes_first) for n, c in cfg.channels.items()} == {
        "phone": (1, 1, True), "chat": (2, 2, False), "whatsapp": (3, 3, False), "email": (4, 4, False)}
    assert {t.name: t.channel for t in cfg.silver.values() if t.channel} == {
        "ura": "phone", "chat": "chat", "whatsapp": "whatsapp", "email": "email"}


def test_valid_file_with_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKE_TEST_SECRET", "s3cret")
    cfg = load_config(write(tmp_path, BASE))
    assert [(c.name, c.key, c.priority, c.customer_attributes_first) for c in cfg.channels.values()] == [
        ("phone", 1, 1, True), ("chat", 2, 2, False)]
    assert cfg.jdbc.password == "s3cret"
    assert "s3cret" not in repr(cfg.jdbc)
    assert cfg.silver["ura"].expectations[0].action is Action.QUARANTINE
    assert cfg.sources["ura"].name == "ura"
    assert cfg.silver["ura"].on_refuted is RefutedPolicy.QUARANTINE   # the default
    with pytest.raises(Exception):
        cfg.lake.root = "other"  # frozen


def test_unset_env_var_names_file_and_key(tmp_path, monkeypatch):
    monkeypatch.delenv("LAKE_TEST_SECRET", raising=False)
    path = write(tmp_path, BASE)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: jdbc.password: environment variable LAKE_TEST_SECRET is not set"


def test_env_default(tmp_path, monkeypatch):
    monkeypatch.delenv("LAKE_TEST_SECRET", raising=False)
    cfg = load_config(write(tmp_path, BASE.replace("${LAKE_TEST_SECRET}", "${LAKE_TEST_SECRET:-fallback}")))
    assert cfg.jdbc.password == "fallback"


@pytest.mark.parametrize(
    "old,new,key,fragment",
    [
        ("    format: json", "    format: json\n    colour: blue", "sources.ura.colour", "unknown key"),
        ("    format: json", "    format: xml", "sources.ura.format", "expected one of 'json', 'csv'; found 'xml'"),
        ("    table: movimento\n", "", "sources.movimento.table", "missing required key"),
        ("    columns: [id]", "    columns: [id]\n    num_partitions: many", "sources.movimento.num_partitions",
         "expected an integer; found 'many'"),
        ("action: quarantine", "action: explode", "silver.ura.expectations[0].action", "expected one of"),
        ("source: ura\n", "source: nowhere\n", "silver.ura.source", "unknown source 'nowhere'"),
        ("    patterns: [\"UraTelefonica*\"]", "    patterns: UraTelefonica", "sources.ura.patterns", "expected a list"),
        ("    keys: [interaction_id]", "    keys: [interaction_id]\n    on_refuted: ignore", "silver.ura.on_refuted",
         "expected one of 'quarantine', 'fail'; found 'ignore'"),
        ("{type: string, source: _row_id}", "{type: text, source: _row_id, whitespace: squash}",
         "silver.ura.columns.interaction_id.whitespace", "expected one of 'trim', 'collapse', 'single_line'"),
        ("{type: string, source: _row_id}", "{type: string, source: _row_id, whitespace: single_line}",
         "silver.ura.columns.interaction_id.whitespace", "only a text or name column takes whitespace"),
        ("channel: phone", "channel: fax", "silver.ura.channel", "unknown channel 'fax' (channels: chat, phone)"),
        ("chat: {key: 2,", "chat: {key: 1,", "channels.chat.key", "key 1 is also channel 'phone'"),
        ("chat: {key: 2, priority: 2}", "chat: {key: 2, priority: 1}", "channels.chat.priority",
         "priority 1 is also channel 'phone'"),
        ("chat: {key: 2, priority: 2}", "chat: {key: -1, priority: 2}", "channels.chat.key",
         "expected a positive integer"),
        ("chat: {key: 2, priority: 2}", "chat: {key: 2, priority: 99}", "channels.chat.priority",
         "expected 1 to 98"),
        ("chat: {key: 2, priority: 2}", "chat: {key: 2, priority: 2, colour: red}", "channels.chat.colour",
         "unknown key"),
        ("chat: {key: 2, priority: 2}", "chat: {key: 2}", "channels.chat.priority", "missing required key"),
        ("chat: {key: 2, priority: 2}", "unknown: {key: 2, priority: 2}", "channels.unknown",
         "dim_channel's unknown member"),
        ("  root: /tmp/lk\n", "  root: /tmp/lk\n  small_step_mib: -1\n", "lake.small_step_mib",
         "must be 0 or more; found -1"),
        ("  root: /tmp/lk\n", "  root: /tmp/lk\n  small_step_mib: some\n", "lake.small_step_mib",
         "expected a number; found 'some'"),
        ("  root: /tmp/lk\n", "  root: /tmp/lk\n  compact_min_files: -5\n", "lake.compact_min_files",
         "must be a whole number, 0 or more; found -5"),
        ("  root: /tmp/lk\n", "  root: /tmp/lk\n  compact_min_files: true\n", "lake.compact_min_files",
         "found True"),
        ("  root: /tmp/lk\n", "  root: /tmp/lk\n  parallel_steps: 0\n", "lake.parallel_steps",
         "must be a whole number, 1 or more; found 0"),
        ("{type: timestamp, source: data, formats: [\"MM/dd/yyyy\"]}",
         "{type: timestamp_ntz, source: data, formats: [\"MM/dd/yyyy\", \"MM/dd/yyyy HH:mm XXX\"]}",
         "silver.ura.columns.started_at.formats", "format 'MM/dd/yyyy HH:mm XXX' reads a zone or offset"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, monkeypatch, old, new, key, fragment):
    monkeypatch.setenv("LAKE_TEST_SECRET", "x")
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == key
    assert str(err.value).startswith(f"{path}: {key}: ")
    assert fragment in str(err.value)


def test_whitespace_and_naive_timestamp_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKE_TEST_SECRET", "x")
    text = BASE.replace(
        "started_at: {type: timestamp, source: data, formats: [\"MM/dd/yyyy\"]}",
        "started_at: {type: timestamp_ntz, source: data, formats: [\"MM/dd/yyyy 'at' HH:mm\"]}\n"
        "      note: {type: text, source: email}\n"
        "      who: {type: name, source: email, whitespace: collapse}")
    cols = load_config(write(tmp_path, text)).silver["ura"].columns
    assert cols["started_at"].type is ColumnType.TIMESTAMP_NTZ  # a quoted literal is not a zone letter
    assert cols["note"].whitespace is None  # default: trimmed only
    assert cols["who"].whitespace is Whitespace.COLLAPSE


def test_local_layer_overrides_base(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKE_TEST_SECRET", "x")
    path = write(tmp_path, BASE)
    assert local_layer_path(path).name == "lake.local.yml"
    write(tmp_path, "lake:\n  root: /data/override\n", name="lake.local.yml")
    cfg = load_config(path)
    assert cfg.lake.root == "/data/override"
    assert cfg.lake.timezone == "America/Sao_Paulo"
    assert cfg.sources["ura"].columns == ("data", "email")


def test_local_layer_errors_are_attributed(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKE_TEST_SECRET", "x")
    path = write(tmp_path, BASE)
    write(tmp_path, "lake:\n  rooot: /x\n", name="lake.local.yml")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "lake.local.yml" in str(err.value) and "lake.rooot" in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(write(tmp_path, "lake: [unclosed"))


def test_on_refuted_fail(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKE_TEST_SECRET", "x")
    cfg = load_config(write(tmp_path, BASE.replace("    keys: [interaction_id]", "    keys: [interaction_id]\n    on_refuted: fail")))
    assert cfg.silver["ura"].on_refuted is RefutedPolicy.FAIL
