-- Shared by the wrk scripts of tests/bench: thread numbering, reading a
-- file of lines, the API key header, and one JSON line of results.

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

-- Lines of a file, as a table.
function read_lines(path)
   local t, n = {}, 0
   local f = assert(io.open(path, "r"))
   for line in f:lines() do
      n = n + 1
      t[n] = line
   end
   f:close()
   return t, n
end

-- args: FILE KEY; every request carries the key (and, when a content
-- type is given, that Content-Type).  Returns FILE's lines and their count.
function init_common(args, content_type)
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
   wrk.headers["X-Api-Key"] = args[2]
   wrk.headers["Accept"] = "application/json"
   wrk.headers["Content-Type"] = content_type
   return read_lines(args[1])
end

-- A unique call id for this run, thread and sequence number.
run_id = tostring(os.time())
function call_id(prefix, seq)
   return string.format("%s%s-%d-%d", prefix, run_id, tid, seq)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"connect_errors":%d,' ..
      '"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
      '"status_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write,
      e.timeout, e.status, latency:percentile(50), latency:percentile(99),
      latency.max))
end
