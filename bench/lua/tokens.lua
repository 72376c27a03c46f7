-- wrk: GET with a different bearer token on each request, round-robin over the tokens of the file
-- BENCH_TOKENS_FILE (one a line). The requests are formatted once, at start, so each one costs wrk
-- a table lookup.
local requests = {}
local next_index = 0

function setup(thread)
  thread:set("first", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end

function init(args)
  local file = os.getenv("BENCH_TOKENS_FILE")
  assert(file, "tokens.lua needs BENCH_TOKENS_FILE")
  for token in io.lines(file) do
    if token ~= "" then
      requests[#requests + 1] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
    end
  end
  assert(#requests > 0, file .. " holds no token")
  -- Threads start at different tokens, so they do not walk the list in lockstep.
  next_index = (first * 7919) % #requests
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
