"""A compiled peer beside the gateway (`python -m bench.peer`, `make bench-peer`): Benthos v4.27.0
doing the gateway's job on the same broker under the same load, alternating runs, CPU per request
of both from /proc, and the broker's own limit for the same records; see benchmark.py.

benthos.py builds and runs Benthos (bench/peer/benthos/: a slim build, go.mod and go.sum pinned;
bench/peer/benthos.yaml: its pipeline), records.py checks what each server writes, broker.py
measures the broker's limit and report.py prints the tables. The test suite never needs any of it.
"""
