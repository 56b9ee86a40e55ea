"""Headwater's benchmarks, one package per component they measure, run from the checkout's root:

    make bench                  # all of them: docs/benchmarks.json, and docs/performance.md's
                                # latest results (python -m bench; --quick to check the wiring)
    make bench-gateway          # python -m bench.gateway: requests/s, latency, CPU per event
    make bench-servers          # python -m bench.gateway.servers: uvicorn or granian
    make bench-instructions     # python -m bench.gateway.instructions: callgrind per request
    make bench-processors       # python -m bench.processors: one worker's events/s, latency
    make bench-sink             # python -m bench.sinks: rows/s into ClickHouse, freshness
    make bench-workflows        # python -m bench.workflows: workflow API latency, CPU per
                                # request, how soon another gateway process sees a write
    make bench-engine           # python -m bench.engine: the workflow engine's pending delays
                                # (memory, disk, restart), event-to-webhook latency, timers
    make bench-pipeline         # python -m bench.pipeline: the whole pipeline on one box, its
                                # sustainable events/s, freshness, every part's CPU per event
    make bench-peer             # python -m bench.peer: the gateway and Benthos side by side
                                # (CPU per request, p99, req/s, their ratios), the broker's limit

What they share: environment.py (the broker, ClickHouse, the dev project, component
processes), cpu.py (CPU time from /proc, and the noise of other work), kafka.py (batch
producing, end offsets), profiling.py (py-spy), results.py and page.py (the results file and
its rendering), runner.py (a benchmark run alone or in turn). Every benchmark starts its own
services on free ports unless `KAFKA_BOOTSTRAP` / `CLICKHOUSE_URL` name running ones.
"""
