-- SPDX-License-Identifier: Apache-2.0
-- Licensed under the Apache License, Version 2.0 (see LICENSE).
-- wrk_status.lua: counts wrk's responses by HTTP status, so that a run in which any response
-- is not 200 (a 302 to the login page, a 401, a 500 ...) is seen, not only wrk's own
-- "Non-2xx or 3xx" count (which ignores redirects).
--
--   wrk ... -s bench/wrk_status.lua URL                 (headers from -H)
--   BENCH_COOKIES=cookies.txt wrk ... -s bench/wrk_status.lua URL
--        each request sends the next line of cookies.txt as its Cookie header; a line
--        "PATH<TAB>COOKIE" also sets the request's path. Thread N reads cookies.txt.N when it
--        exists (the benchmark splits the list, so that no thread spends long in init():
--        wrk starts its clock only after every thread's init, while the threads already
--        running send requests). The request is formatted in request(), the same work
--        whether the list holds 1 line or 100,000. Without BENCH_COOKIES no request()
--        callback is defined, so wrk sends one pre-built request (the fast, static path).
--
-- BENCH_BODY_LEN=1024 also counts, as status 0, every 200 whose body is not that long.
--
-- done() prints one line:  STATUS_COUNTS {"200":12345,"302":0,...}

local threads = {}
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("thread_no", thread_no)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  local path = os.getenv("BENCH_COOKIES")
  if path == nil or path == "" then return end
  local mine = path .. "." .. tostring(thread_no or 1)
  local f = io.open(mine, "r")
  if f then f:close(); path = mine end
  cookies, paths = {}, {}
  for line in io.lines(path) do
    if #line > 0 then
      local p, c = line:match("^([^\t]*)\t(.*)$")
      cookies[#cookies + 1] = c or line
      paths[#cookies] = p or false
    end
  end
  if #cookies == 0 then error("no cookies in " .. path) end
  idx = 0
end

local rotate = os.getenv("BENCH_COOKIES")
if rotate and rotate ~= "" then
  function request()
    idx = idx % #cookies + 1
    wrk.headers["Cookie"] = cookies[idx]
    return wrk.format(nil, paths[idx] or nil)
  end
end

local body_len = tonumber(os.getenv("BENCH_BODY_LEN") or "")

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if body_len and status == 200 and #body ~= body_len then
    -- a 200 that is not the file (counted as status 0)
    statuses[0] = (statuses[0] or 0) + 1
  end
end

function done(summary, latency, requests_)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do
      total[k] = (total[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(total) do
    parts[#parts + 1] = string.format('"%d":%d', k, v)
  end
  io.write("STATUS_COUNTS {" .. table.concat(parts, ",") .. "}\n")
end
