"""The gateway's benchmarks: its throughput and latency under wrk (`python -m bench.gateway`),
the choice of HTTP server (`bench.gateway.servers`), its instructions per request under
callgrind (`bench.gateway.instructions`) and its publisher's CPU per record on a real broker
(`bench.gateway.publishing`)."""
