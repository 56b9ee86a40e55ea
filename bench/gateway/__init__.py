"""The gateway's benchmarks: its throughput and latency under wrk (`python -m bench.gateway`),
the choice of HTTP server (`bench.gateway.servers`) and its instructions per request under
callgrind (`bench.gateway.instructions`)."""
