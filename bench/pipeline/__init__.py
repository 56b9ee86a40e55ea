"""The whole pipeline on one box (`make bench-pipeline`): its sustainable events/s, its
freshness, and the CPU every component spends per event; see benchmark.py."""
