"""The workflow engine's benchmark (`make bench-engine`): see bench/engine/benchmark.py."""
