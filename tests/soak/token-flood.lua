-- wrk script for token_flood.sh: each thread sends QUOTA requests to /orders, each with a bearer
-- token sent never before (PREFIX-THREAD-N for N = FIRST+1 .. FIRST+QUOTA), then stops. Requests
-- wrk still has in flight at the end repeat the thread's last token (answered from the cache, or
-- joining its IdP call), so the distinct tokens are exactly QUOTA per thread.
--   wrk -t1 -c64 -d600s -s token-flood.lua http://127.0.0.1:PORT/orders -- QUOTA PREFIX FIRST DONE_FILE
-- wrk runs for its whole -d even when every thread has stopped: a thread that reaches its quota
-- creates DONE_FILE, and the caller then ends wrk with SIGINT (which still prints the report).
-- After the run, prints one JSON line: tokens sent, responses by status class, latency.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  quota = tonumber(args[1])
  prefix = args[2]
  first = tonumber(args[3])
  done_file = args[4]
  sent = 0
  answered = 0
  unauthorized = 0
  other = 0
end

function request()
  if sent < quota then
    sent = sent + 1
  end
  local token = prefix .. "-" .. id .. "-" .. (first + sent)
  return wrk.format("GET", "/orders", { ["Authorization"] = "Bearer " .. token })
end

function response(status)
  answered = answered + 1
  if status == 401 then
    unauthorized = unauthorized + 1
  else
    other = other + 1
  end
  if answered == quota then
    io.open(done_file, "w"):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local tokens, answers_401, answers_other = 0, 0, 0
  for _, thread in ipairs(threads) do
    tokens = tokens + thread:get("sent")
    answers_401 = answers_401 + thread:get("unauthorized")
    answers_other = answers_other + thread:get("other")
  end
  io.write(string.format(
    '{"tokens":%d,"answers_401":%d,"answers_other":%d,"requests":%d,"duration_us":%d,'
      .. '"rps":%.1f,"latency_us":{"p50":%d,"p99":%d,"max":%d},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    tokens, answers_401, answers_other, summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
