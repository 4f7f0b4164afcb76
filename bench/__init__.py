"""Benchmark harness (`python -m bench`): generate a booking history, load it, refresh the dbt project fully and
incrementally, and time it against a hand-written SQL floor, a naive pandas script and message composition.

Results go to `RESULTS.md`, `results.csv` and `nodes.csv` in the folder given by `--out`.
"""
