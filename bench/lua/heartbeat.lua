-- Cycles heartbeats over a set of live sessions: POST /api/v1/session/ID/heartbeat with
-- Content-Type: application/json and the body {}. The ids come from a file, one a line:
--   wrk -t1 -c32 -d10s --latency -s bench/lua/heartbeat.lua http://127.0.0.1:PORT -- IDS
-- Every request is formatted once, before the run, so the load generator spends its time on I/O.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require "report"

local requests, next_index = {}, 1

function init(args)
  local path = args[1] or error("heartbeat.lua: the ids file is missing")
  local headers = { ["Content-Type"] = "application/json" }
  for id in io.lines(path) do
    requests[#requests + 1] =
      wrk.format("POST", "/api/v1/session/" .. id .. "/heartbeat", headers, "{}")
  end
  assert(#requests > 0, "heartbeat.lua: no ids in " .. path)
  next_index = math.random(#requests)
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

done = report
