"""The test suite (``make test``)."""

#: JVM options for the JVMs tests start in other processes and that live a minute or so
#: (kill workers, notebook kernels, the `lake demo` and wheel subprocesses, the drivers that
#: tests/test_cluster.py submits): the C1 compiler alone. For such a JVM it costs
#: less CPU than tiered C1 + C2 at the same or better wall time, and the suite is CPU-bound
#: on two cores (measured 2026-11-27: a 120-row run in a fresh JVM, 42-45 s of machine CPU
#: against 62-65 s, 35-37 s wall either way; tests/test_notebooks.py, 220 s of CPU and 161 s
#: against 295 s and 173 s). Not for the shared session's JVM, which lives for the whole
#: run: with C1 alone tests/test_gold_incremental.py took 207 s against 140 s. Nor for the
#: watches of tests/test_watch.py: 12% less CPU there but 8% more wall time (260 s against 241 s).
SHORT_JVM_OPTS = "-XX:TieredStopAtLevel=1"
