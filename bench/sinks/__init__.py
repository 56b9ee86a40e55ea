"""The sink's benchmark (`python -m bench.sinks`): rows/s of one sink into ClickHouse, and how
fresh rows are end to end (benchmark.py says how)."""
