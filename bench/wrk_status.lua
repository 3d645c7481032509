-- wrk_status.lua: counts wrk's responses by HTTP status, so that a run in which any response
-- is not 200 (a 302 to the login page, a 401, a 500 ...) is seen, not only wrk's own
-- "Non-2xx or 3xx" count (which ignores redirects).
--
--   wrk ... -s bench/wrk_status.lua URL                 (headers from -H)
--   BENCH_COOKIES=cookies.txt wrk ... -s bench/wrk_status.lua URL
--        each request sends the next line of cookies.txt as its Cookie header (each thread
--        starts at its own offset); a line "PATH<TAB>COOKIE" also sets the request's path.
--        Without BENCH_COOKIES no request() callback is defined, so wrk sends one pre-built
--        request (the fast, static path).
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
  cookies = nil
  local path = os.getenv("BENCH_COOKIES")
  if path == "" then path = nil end
  if path then
    cookies = {}
    for line in io.lines(path) do
      if #line > 0 then cookies[#cookies + 1] = line end
    end
    if #cookies == 0 then error("no cookies in " .. path) end
    -- pre-build every request once; request() only picks the next one
    requests = {}
    for i, line in ipairs(cookies) do
      local path, c = line:match("^([^\t]*)\t(.*)$")
      wrk.headers["Cookie"] = c or line
      requests[i] = wrk.format(nil, path)
    end
    idx = ((thread_no or 1) * 7919) % #requests
  end
end

local rotate = os.getenv("BENCH_COOKIES")
if rotate and rotate ~= "" then
  function request()
    idx = idx % #requests + 1
    return requests[idx]
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
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
