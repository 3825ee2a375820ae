-- Creates exactly COUNT sessions as fast as the server allows, then stops; with an OUT path,
-- writes their ids there, one a line. Run with one thread:
--   wrk -t1 -c64 -d600s -s bench/lua/create.lua http://127.0.0.1:PORT -- COUNT [OUT]
-- After COUNT creates have been sent, every further request is a harmless GET /healthz until the
-- COUNT answers are in, so exactly COUNT sessions are created. wrk 4.1 calls request() once per
-- thread before it connects and never sends that request, so the first call is not counted.
-- wrk's main thread sleeps for the whole -d duration even when its worker stops, so the script
-- ends the run with SIGINT to its own process, which wrk handles: it reports and exits. A signal
-- can land on the worker thread, where it does not wake the main thread's sleep, so a detached
-- shell repeats it every 0.1 s until wrk is gone (by then the worker thread has exited and the
-- main thread takes it). io.popen, not os.execute: system() ignores SIGINT while it runs.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require "report"

local count, out, sent, created, calls = 0, nil, 0, 0, 0
local create_request, filler

function init(args)
  count = tonumber(args[1]) or error("create.lua: the count is missing")
  if args[2] and args[2] ~= "-" then out = assert(io.open(args[2], "w")) end
  create_request = wrk.format("POST", "/api/v1/session",
    { ["Content-Type"] = "application/json" }, "{}")
  filler = wrk.format("GET", "/healthz")
end

function request()
  calls = calls + 1
  if calls > 1 and sent < count then
    sent = sent + 1
    return create_request
  end
  return filler
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
    if out then out:write(body:match('"session_id":"([^"]+)"'), "\n") end
  end
  if created == count then
    if out then out:close(); out = nil end
    wrk.thread:stop()
    local stat = assert(io.open("/proc/self/stat")):read("*l")
    local pid = stat:match("^(%d+)")
    io.popen("(while kill -INT " .. pid .. " 2>/dev/null; do sleep 0.1; done) >/dev/null 2>&1 &"):close()
  end
end

done = report
