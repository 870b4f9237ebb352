-- serve_wrk.lua — wrk script for bench/serve.sh: each connection cycles
-- through the request paths in $BLEND_PATHS (one "/search?..." per line),
-- starting at a different offset, and counts non-2xx answers.
local paths = {}
local f = assert(io.open(os.getenv("BLEND_PATHS") or "paths.txt"))
for line in f:lines() do paths[#paths + 1] = line end
f:close()
local i = 0
local bad = 0
function setup(thread) thread:set("id", math.random(1, #paths)) end
function init(args) i = id end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("wrk-summary requests=%d duration_s=%.2f qps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d errors=%d (connect %d read %d write %d timeout %d)\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
