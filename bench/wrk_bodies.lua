-- wrk script of python -m bench.wrk: POST distinct pre-rendered (pre-signed) bodies.
--
-- BODIES (environment) names a file of bodies, each followed by one NUL byte. Every wrk
-- thread takes its own share (thread k of n: bodies k, k+n, ...), so no body is sent twice
-- while the file lasts; after that a thread starts its share again (the service answers a
-- replayed signature IPL000003, counted as a non-2xx answer: make the file long enough).
-- The file is read as it is sent, a megabyte at a time, so that a soak's file of many
-- gigabytes needs no more memory than a short run's.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local file, chunk, pos, index, threads

local function next_in_file()
  while true do
    local stop = string.find(chunk, "\0", pos, true)
    if stop ~= nil then
      local body = string.sub(chunk, pos, stop - 1)
      pos = stop + 1
      return body
    end
    local more = file:read(1048576)
    if more == nil then -- the end of the file: from the start again
      file:seek("set", 0)
      chunk, pos, index = "", 1, 0
    else
      chunk = string.sub(chunk, pos) .. more
      pos = 1
    end
  end
end

function init(args)
  threads = tonumber(os.getenv("WRK_THREADS") or "1")
  file = assert(io.open(os.getenv("BODIES"), "rb"))
  chunk, pos, index = "", 1, 0
  path = os.getenv("ENDPOINT_PATH")
  headers = { ["Content-Type"] = "application/soap+xml; charset=utf-8" }
end

function request()
  while true do
    local body = next_in_file()
    local mine = index % threads == id
    index = index + 1
    if mine then
      return wrk.format("POST", path, headers, body)
    end
  end
end
