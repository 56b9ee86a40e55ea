"""A fixed rate of Vemetric `POST /e` requests from wrk, paced by a Lua script.

wrk2 (wrk with `-R`) is not installed here, and a Python client paced at thousands of requests
a second would take a good part of one of the two cores the pipeline is measured on; wrk is C
and costs a few percent of one. wrk calls the script's `delay()` whenever a connection is free
to send: the script hands each call the next slot of one schedule, request n at start + n /
rate, and the connection waits until then (0 ms when the schedule is behind). So the rate holds
whatever the answers' latency, up to CONNECTIONS requests in flight: an open loop, as wrk2's is.
Each request names one of USERS visitors in turn (the seed's pageview, bench/gateway/bodies.py,
with its identifier replaced), so keys spread over the partitions as real traffic's do.
"""

from dataclasses import dataclass
from pathlib import Path
from string import Template

import orjson

from bench.gateway.bodies import vemetric_pageview
from bench.gateway.wrk import WrkResult, wrk
from bench.sinks.open_loop import USER_AGENT

__all__ = ["CONNECTIONS", "Paced", "paced_load"]

CONNECTIONS = 256
"""Requests in flight at most: 256 keeps 4,000 requests/s going at 64 ms per answer."""
USERS = 10_000
_IDENTIFIER = b"user_123"
_SCRIPT = Template(
    """-- Paced: request n goes out at start + n / rate, on whichever connection is free.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local interval_ms, users = $interval_ms, $users
local head, tail = $head, $tail
local start, slot, sent = nil, 0, 0
wrk.method, wrk.path = "POST", "/e"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = $user_agent

function delay()
  local now = now_ms()
  start = start or now
  local due = start + slot * interval_ms
  slot = slot + 1
  return math.max(0, math.floor(due - now))
end

function request()
  sent = sent + 1
  return wrk.format(nil, nil, nil, head .. (sent % users) .. tail)
end
"""
)


def _lua_string(text: bytes) -> str:
    """A Lua string literal of ASCII JSON: a JSON string literal of it is one."""
    return orjson.dumps(text.decode("ascii")).decode()


def write_script(path: Path, token: str, rate: float) -> Path:
    """The pacing script for `rate` requests/s of the development project's pageviews."""
    head, tail = vemetric_pageview(token).split(_IDENTIFIER)
    path.write_text(
        _SCRIPT.substitute(
            interval_ms=repr(1000.0 / rate),
            users=USERS,
            head=_lua_string(head + b"user_"),
            tail=_lua_string(tail),
            user_agent=_lua_string(USER_AGENT.encode()),
        )
    )
    return path


@dataclass(frozen=True)
class Paced:
    """What wrk reports of one paced run: its result, or why it failed."""

    result: WrkResult | None
    error: str | None
    """wrk's account of non-2xx answers or socket errors (timeouts included): requests the
    gateway did not accept in time."""


def paced_load(url: str, script: Path, seconds: float) -> Paced:
    """One paced run of `seconds` against the gateway at `url`."""
    try:
        return Paced(wrk(f"{url}/e", script, CONNECTIONS, f"{seconds:.0f}s"), None)
    except SystemExit as exc:  # wrk.py fails a run with errors: here it is a finding
        return Paced(None, str(exc))
