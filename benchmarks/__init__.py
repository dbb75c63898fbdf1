"""Internals of the operator scripts ``test_canvas_performance.py`` and ``test_optimizations.py``.

- :mod:`benchmarks.lower_bound`: the fastest time a request plan allows (latency and bucket).
- :mod:`benchmarks.harness`: a throw-away app and database, statement and row counters.
- :mod:`benchmarks.contenders`: the five ways of syncing that the benchmark compares.
- :mod:`benchmarks.runner`: timed runs of a contender (simulator or real Canvas), summaries.
- :mod:`benchmarks.report`: the terminal table, the JSON file, the chart and the targets.
"""
