"""CLI contract: help on every command, exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lake import cli

COMMANDS = ["demo", "run", "export-csv", "query", "status", "plan", "generate", "upgrade"]


def lake(*args, env=None, cwd=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "lake.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=600)


def test_help_lists_commands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lake " + command)


def test_usage_error_exit_code(capsys):
    assert cli.main(["run", "--layer", "platinum"]) == cli.EXIT_USAGE
    assert "invalid choice" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert cli.main([]) == cli.EXIT_USAGE


def test_config_error_is_one_line_with_exit_3(tmp_path):
    bad = tmp_path / "lake.yml"
    bad.write_text("lake:\n  rooot: x\njdbc: {url: 'jdbc:sqlite:x'}\nsources: {}\nsilver: {}\n")
    proc = lake("plan", "--config", str(bad))
    assert proc.returncode == cli.EXIT_CONFIG
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"lake: error: {bad}: lake.rooot: unknown key (expected one of: compact_min_files, landing, output_dir, parallel_steps, root, small_step_mib, timezone)"]


def test_verbose_adds_traceback(tmp_path):
    proc = lake("plan", "--config", str(tmp_path / "missing.yml"), "--verbose")
    assert proc.returncode == cli.EXIT_CONFIG
    assert "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"lake: error: {tmp_path / 'missing.yml'}: file not found"


def test_plan_runs_without_spark(tmp_path):
    proc = lake("plan", "--landing", str(tmp_path), "--lake-root", str(tmp_path / "lk"),
                "--jdbc-url", "jdbc:postgresql://db:5432/coop?user=u&password=topsecret")
    assert proc.returncode == 0, proc.stderr
    assert "topsecret" not in proc.stdout
    assert f"{tmp_path / 'lk'}/bronze/ura" in proc.stdout
    assert "movimento_flat.csv" in proc.stdout


def test_failed_run_exit_code_1(tmp_path):
    # A database that does not exist: the run fails with a one-line source error.
    proc = lake("run", "--pipeline", "cooperative", "--layer", "bronze", "--lake-root", str(tmp_path / "lk"),
                "--jdbc-url", "jdbc:postgresql://127.0.0.1:1/nowhere")
    assert proc.returncode == cli.EXIT_FAILED, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lake: error: ")
    assert "associado" in last



#: Python code that makes ``module`` uninstalled for the process (a finder that refuses it).
_BLOCK = """
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {module!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.mark.parametrize("command", ["generate", "demo"])
def test_sample_data_without_the_datagen_extra_names_it(command, tmp_path):
    argv = [command, "--config", str(tmp_path / "unused.yml")]
    code = _BLOCK.format(module="faker") + f"from lake import cli\nsys.exit(cli.main({argv!r}))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == cli.EXIT_PREFLIGHT, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "lake: error: the 'datagen' extra is not installed (no module faker): pip install 'lake[datagen]'"]


def test_pandas_engine_without_pandas_names_the_extra():
    code = _BLOCK.format(module="pandas") + (
        "import pyarrow as pa\n"
        "from lake.api import _to_pandas\n"
        "from lake.errors import MissingExtraError\n"
        "try:\n"
        "    _to_pandas(pa.table({'a': [1]}))\n"
        "except MissingExtraError as exc:\n"
        "    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "the 'pandas' extra is not installed (no module pandas): pip install 'lake[pandas]'", proc.stderr
