"""The processors' benchmark (`python -m bench.processors`): one worker's throughput, the
latency it adds, its dedupe state, and faust's own floor beneath it (benchmark.py says how)."""
