-- wrk script of python -m bench.wrk: POST distinct pre-rendered (pre-signed) bodies.
--
-- BODIES (environment) names a file of bodies, each followed by one NUL byte. Every wrk
-- thread takes its own share (thread k of n: bodies k, k+n, ...), so no body is sent twice
-- while the file lasts; after that a thread starts its share again (the service answers a
-- replayed signature IPL000003, counted as a non-2xx answer: make the file long enough).

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  local f = assert(io.open(os.getenv("BODIES"), "rb"))
  local data = f:read("*a")
  f:close()
  bodies = {}
  local index, start = 0, 1
  while true do
    local stop = string.find(data, "\0", start, true)
    if stop == nil then break end
    if index % n == id then
      table.insert(bodies, string.sub(data, start, stop - 1))
    end
    index = index + 1
    start = stop + 1
  end
  path = os.getenv("ENDPOINT_PATH")
  headers = { ["Content-Type"] = "application/soap+xml; charset=utf-8" }
  next_body = 1
end

function request()
  local body = bodies[next_body]
  next_body = next_body + 1
  if next_body > #bodies then next_body = 1 end
  return wrk.format("POST", path, headers, body)
end
