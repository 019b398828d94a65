"""The test suite (``make test``)."""

#: JVM options for the JVMs tests start in other processes (kill workers, watches, notebook
#: kernels, the `lake demo` and wheel subprocesses, the drivers that tests/test_cluster.py
#: submits): the C1 compiler alone, with the code cache tiered compilation would reserve.
#: For such a JVM C1 costs less CPU than tiered C1 + C2 at the same or better wall time, and
#: the suite is CPU-bound on two cores (measured 2026-11-27: a 120-row run in a fresh JVM,
#: 42-45 s of machine CPU against 62-65 s, 35-37 s wall either way). Without tiered
#: compilation the JVM reserves only 48 MB of code cache, which a pipeline run fills in about
#: 30 s ("CodeCache is full. Compiler has been disabled."): what is still cold after that
#: runs in the bytecode interpreter. With 240 MB (tiered's default), single runs, 2026-11-28:
#: `lake demo` at 300 rows 58.0 s against 66.5 s; tests/test_watch.py 232 s against 253 s
#: (watches with tiered compilation). Not for the shared session's JVM, which lives for the
#: whole run: tests/test_gold_incremental.py took 283 s with these options against 253 s.
SHORT_JVM_OPTS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
