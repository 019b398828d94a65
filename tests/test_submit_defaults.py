"""spark-submit defaults (lake.install): the managed block of spark-defaults.conf and the SPARK_HOME pin."""

from __future__ import annotations

from lake import install


def _block(text: str) -> dict[str, str]:
    start = text.index(install.DEFAULTS_BEGIN)
    end = text.index(install.DEFAULTS_END, start)
    return install._parse_properties(text[start:end].splitlines())


def test_block_written_with_jars_delta_python_and_zone(tmp_path):
    path = install.write_spark_defaults(["/c/a.jar", "/c/b.jar"], home=tmp_path, python="/v/bin/python")
    assert path == tmp_path / "conf" / "spark-defaults.conf"
    block = _block(path.read_text())
    assert block["spark.jars"] == "/c/a.jar,/c/b.jar"
    assert block["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert block["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert block["spark.sql.legacy.charVarcharAsString"] == "true"
    assert block["spark.pyspark.python"] == block["spark.pyspark.driver.python"] == "/v/bin/python"
    assert "-Duser.timezone=" in block["spark.driver.extraJavaOptions"]
    assert "-Duser.timezone=" in block["spark.executor.extraJavaOptions"]


def test_user_lines_kept_and_block_replaced_in_place(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(
        "# mine\nspark.executor.memory 3g\nspark.jars /u/mine.jar\nspark.sql.extensions=my.Ext\n"
        "spark.driver.extraJavaOptions -Xss4m\n")
    install.write_spark_defaults(["/c/a.jar"], home=tmp_path, python="/v/bin/python")
    text = install.write_spark_defaults(["/c/a.jar", "/c/b.jar"], home=tmp_path, python="/v/bin/python").read_text()
    assert text.count(install.DEFAULTS_BEGIN) == 1 and text.count(install.DEFAULTS_END) == 1
    assert text.startswith("# mine\nspark.executor.memory 3g\nspark.jars /u/mine.jar\n")
    block = _block(text)
    assert block["spark.jars"] == "/u/mine.jar,/c/a.jar,/c/b.jar"  # merged, the user's first
    assert "spark.sql.extensions" not in block  # the user's own value wins
    assert block["spark.driver.extraJavaOptions"].startswith("-Xss4m -Duser.timezone=")
    # Java properties: a later line wins, so the merged values must come last
    assert install._parse_properties(text.splitlines())["spark.jars"] == "/u/mine.jar,/c/a.jar,/c/b.jar"


def test_pin_spark_home_is_idempotent_and_returns_when_sourced(tmp_path):
    script = tmp_path / "find-spark-home"
    script.write_text("#!/usr/bin/env bash\nif [ ! -z \"${SPARK_HOME}\" ]; then\n   exit 0\nfi\n")
    install.pin_spark_home(bin_dir=tmp_path, home="/opt/pyspark")
    install.pin_spark_home(bin_dir=tmp_path, home="/opt/pyspark")
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert sum(install.FIND_HOME_MARK in line for line in lines) == 1
    assert 'export SPARK_HOME="/opt/pyspark"; return 0' in lines[1]
    import subprocess

    out = subprocess.run(["bash", "-c", f"unset SPARK_HOME; source {script}; echo home=$SPARK_HOME"],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "home=/opt/pyspark"


def test_a_block_and_pin_written_under_the_old_command_are_replaced(tmp_path):
    # what `python -m lake.session --warm` wrote before the install tooling had its own module
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(
        "spark.executor.memory 3g\n"
        "# >>> lake: managed by 'python -m lake.session --warm'; edits inside this block are overwritten\n"
        "spark.jars /c/old.jar\n# <<< lake\n")
    text = install.write_spark_defaults(["/c/a.jar"], home=tmp_path, python="/v/bin/python").read_text()
    assert "lake.session" not in text and text.count("# >>> lake:") == 1
    assert _block(text)["spark.jars"] == "/c/a.jar"
    script = tmp_path / "find-spark-home"
    script.write_text("#!/usr/bin/env bash\nexport SPARK_HOME=/old  # lake: managed by 'python -m lake.session --warm'\n")
    install.pin_spark_home(bin_dir=tmp_path, home="/opt/pyspark")
    lines = script.read_text().splitlines()
    assert len(lines) == 2 and install.FIND_HOME_MARK in lines[1] and "/old" not in lines[1]
