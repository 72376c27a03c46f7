-- wrk: every connection pauses BENCH_DELAY_MS after each response before its next request, so that
-- N connections offer about N × 1000 / BENCH_DELAY_MS requests per second, below the server's peak:
-- the latency then measured is the server's at that load, not the queue of a saturated one.
local pause_ms = tonumber(os.getenv("BENCH_DELAY_MS"))
assert(pause_ms and pause_ms > 0, "paced.lua needs BENCH_DELAY_MS")

function delay()
  return pause_ms
end

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
