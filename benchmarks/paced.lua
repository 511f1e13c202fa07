-- wrk script for the http benchmark's fixed-rate window: every connection waits WRK_PACE_MS
-- milliseconds after each response before it sends the next request, so the request rate is
-- about connections * 1000 / (WRK_PACE_MS + latency), the same for every variant that keeps its
-- latency well under the pause. wrk measures each request's latency from the moment it is
-- written, so the pause itself is not counted.
local pace = tonumber(os.getenv("WRK_PACE_MS") or "16")

function delay()
  return pace
end
