-- Mixed API workload for wrk (bench/load.sh), paced to a fixed total rate.
--
-- wrk drives a closed loop (each connection sends its next request when the previous one has
-- answered). This script paces it: every wrk thread owns RATE/THREADS send slots per second,
-- evenly spaced, and wrk's delay() hook holds each request until its slot. With enough
-- connections per thread (many more than rate x latency), the load is a fixed rate as long as the
-- server keeps up; when it does not, requests queue behind busy connections and the achieved rate
-- (printed at the end) falls below RATE, which the script then reports as a failure.
--
-- Environment (set by bench/load.sh):
--   TOKEN     API bearer token (an admin: sees every customer)
--   MAX_ID    customers 1..MAX_ID exist and have stored value figures
--   RATE      total requests per second, all threads together
--   THREADS   wrk's -t (the rate is split between threads)
--   MIX       percentages "list,card,value,interaction,order" (default 25,25,25,15,10)
--   DAY       order date of the orders written (YYYY-MM-DD)
--
-- It counts requests sent per kind, good answers per kind (told apart by their bodies: wrk does
-- not say which request an answer belongs to) and non-2xx answers; done() prints them, the
-- achieved rate, p50/p99/max over all kinds, and a line "errors N" that bench/load.sh reads.
-- Latency is measured by wrk from the moment a request is written, so time a request waited
-- for a free connection is not in it: the achieved rate shows when that happened.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } patron_ts;
  int clock_gettime(int clk, patron_ts *ts);
]]
local ts = ffi.new("patron_ts")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local KINDS = { "list", "card", "value", "interaction", "order" }
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

-- URL-safe base64 without padding, for keyset cursors (an id cursor is the JSON number).
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function b64url(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = 2 + (b and 1 or 0) + (c and 1 or 0)
    for k = 1, chars do
      local shift = 18 - 6 * (k - 1)
      local v = math.floor(n / 2 ^ shift) % 64
      out[#out + 1] = B64:sub(v + 1, v + 1)
    end
  end
  return table.concat(out)
end

local REGIONS = { "North", "South", "East", "West", "Central", "Northeast", "Southwest", "Coast" }

function init(args)
  token = os.getenv("TOKEN") or error("TOKEN is not set")
  max_id = tonumber(os.getenv("MAX_ID") or error("MAX_ID is not set"))
  local rate = tonumber(os.getenv("RATE") or "500")
  local nthreads = tonumber(os.getenv("THREADS") or "2")
  day = os.getenv("DAY") or "2026-01-15"
  interval = 1000 * nthreads / rate -- ms between this thread's sends
  local mix = {}
  for p in (os.getenv("MIX") or "25,25,25,15,10"):gmatch("%d+") do
    mix[#mix + 1] = tonumber(p)
  end
  cumulative = {}
  local total = 0
  for i = 1, #KINDS do
    total = total + (mix[i] or 0)
    cumulative[i] = total
  end
  mix_total = total
  math.randomseed(os.time() * 1000 + id)
  next_slot = nil
  sent, done_n, errors_n, first_bad = {}, {}, 0, ""
  for _, k in ipairs(KINDS) do
    sent[k], done_n[k] = 0, 0
  end
  auth = "Bearer " .. token
end

local function pick()
  local r = math.random(mix_total)
  for i = 1, #KINDS do
    if r <= cumulative[i] then
      return KINDS[i]
    end
  end
  return KINDS[#KINDS]
end

local function list_path()
  local v = math.random(5)
  if v == 1 then
    return "/api/customers?limit=50"
  elseif v == 2 then
    return "/api/customers?limit=50&after=" .. b64url(tostring(math.random(max_id)))
  elseif v == 3 then
    return "/api/customers?limit=50&region=" .. REGIONS[math.random(#REGIONS)]
  elseif v == 4 then
    return "/api/customers?limit=50&abc=A&rfm_segment=champions"
  else
    return "/api/customers?limit=20&sort=-clv"
  end
end

function request()
  local kind = pick()
  sent[kind] = sent[kind] + 1
  local id = math.random(max_id)
  local headers = { ["Authorization"] = auth, ["Accept"] = "application/json" }
  if kind == "list" then
    return wrk.format("GET", list_path(), headers)
  elseif kind == "card" then
    return wrk.format("GET", "/api/customers/" .. id, headers)
  elseif kind == "value" then
    return wrk.format("GET", "/api/customers/" .. id .. "/value", headers)
  end
  headers["Content-Type"] = "application/json"
  if kind == "interaction" then
    return wrk.format("POST", "/api/customers/" .. id .. "/interactions", headers,
      '{"kind":"call","text":"load test: asked about the spring catalogue","by":"bench"}')
  end
  return wrk.format("POST", "/api/customers/" .. id .. "/orders", headers,
    '{"ordered_on":"' .. day .. '","lines":[{"category":"cd","quantity":2,"amount":23.5,"cost":10.25}]}')
end

-- wrk calls delay() when a connection has its answer; the connection sends its next request
-- after the returned milliseconds. Each call takes this thread's next free slot (slots are
-- `interval` apart); a slot already past is sent at once, so a late thread catches up.
function delay()
  local t = now_ms()
  if next_slot == nil then
    next_slot = t
  end
  local slot = next_slot
  next_slot = next_slot + interval
  return math.max(0, slot - t)
end

function response(status, headers, body)
  -- Tell the kind from the answer: a page has "items", a customer record "merged_into", an
  -- order "order_ref" and "lines", an interaction "occurred_at", a value detail "clv".
  local kind
  if body:find('"items"', 1, true) then
    kind = "list"
  elseif body:find('"merged_into"', 1, true) then
    kind = "card"
  elseif body:find('"order_ref"', 1, true) and body:find('"lines"', 1, true) then
    kind = "order"
  elseif body:find('"occurred_at"', 1, true) then
    kind = "interaction"
  elseif body:find('"clv"', 1, true) then
    kind = "value"
  end
  if kind then
    done_n[kind] = done_n[kind] + 1
  end
  if status < 200 or status > 299 then
    errors_n = errors_n + 1
    if first_bad == "" then
      first_bad = status .. " " .. body:sub(1, 200)
    end
  end
end

function done(summary, latency, requests)
  local total_sent, errors = {}, 0
  local first = ""
  for _, k in ipairs(KINDS) do
    total_sent[k] = 0
  end
  local answered = {}
  for _, k in ipairs(KINDS) do
    answered[k] = 0
  end
  for _, t in ipairs(threads) do
    local s, d = t:get("sent"), t:get("done_n")
    for _, k in ipairs(KINDS) do
      total_sent[k] = total_sent[k] + (s and s[k] or 0)
      answered[k] = answered[k] + (d and d[k] or 0)
    end
    errors = errors + (t:get("errors_n") or 0)
    local fb = t:get("first_bad")
    if first == "" and fb and fb ~= "" then
      first = fb
    end
  end
  local secs = summary.duration / 1e6
  io.write(string.format("achieved %.1f req/s (%d requests in %.1f s)\n",
    summary.requests / secs, summary.requests, secs))
  for _, k in ipairs(KINDS) do
    io.write(string.format("kind %-11s sent %7d  answered ok %7d\n", k, total_sent[k], answered[k]))
  end
  local e = summary.errors
  io.write(string.format("socket errors: connect %d read %d write %d timeout %d\n",
    e.connect, e.read, e.write, e.timeout))
  io.write(string.format("latency_us p50 %d p99 %d max %d\n",
    latency:percentile(50), latency:percentile(99), latency.max))
  io.write(string.format("errors %d\n", errors + e.connect + e.read + e.write + e.timeout))
  if first ~= "" then
    io.write("first error: " .. first .. "\n")
  end
end
