-- require("microdot.sse"): server-sent events, the twin of Microdot 2.7's
-- microdot.sse. The handler runs in a coroutine of its own, driven as the
-- response's stream: each sse:send is one chunk, so it waits while the
-- client is behind, and a client that leaves closes the coroutine (its
-- to-be-closed variables run), even while it sleeps.
local core = require("microdot.core")
local helpers = require("microdot.helpers")
local response = require("microdot.response")
local check_self = require("microdot.errors").check_self

local type, tostring, error, select, setmetatable, math_floor =
  type, tostring, error, select, setmetatable, math.floor
local co_create, co_yield, co_status, co_close, co_isyieldable =
  coroutine.create, coroutine.yield, coroutine.status, coroutine.close, coroutine.isyieldable
local host_resume, pack, unpack, concat = core.resume, table.pack, table.unpack, table.concat
local SUSPEND, SLEEP = core.SUSPEND, core.SLEEP
local find, sub, byte = string.find, string.sub, string.byte

local M = {}

-- The kind of suspension sse:send raises: only the stream's driver below
-- understands it (the host answers any other one "unknown suspension").
local WRITE = setmetatable({}, { __name = "microdot.sse.WRITE" })

--- The object a handler sends events with.
---@class microdot.sse.SSE
---@field closed boolean the stream has ended
local SSE = {}
SSE.__index = SSE
SSE.__name = "microdot.sse.SSE"
M.SSE = SSE

local function set(value)
  return value ~= nil and value ~= false and value ~= "" and value ~= 0
end

local function data_text(data, level)
  local kind = type(data)
  if kind == "string" then return data end
  if kind == "table" or kind == "number" then return core.json.encode(data) end
  if kind == "boolean" then return tostring(data) end
  error("sse:send: data must be a string, a table, a number or a boolean, got " .. kind, level + 1)
end

-- `prefix` before each line of `text` (a line break is \r\n, \r or \n).
-- One forward scan for the next break: linear in the text.
local function lines(prefix, text, out)
  local start = 1
  while true do
    local i = find(text, "[\r\n]", start)
    if i == nil then break end
    out[#out + 1] = prefix .. sub(text, start, i - 1) .. "\n"
    if byte(text, i) == 13 and byte(text, i + 1) == 10 then i = i + 1 end
    start = i + 1
  end
  out[#out + 1] = prefix .. sub(text, start) .. "\n"
end

local function check_field(name, value, level)
  if type(value) == "number" then value = tostring(value) end
  if type(value) ~= "string" then error("sse:send: " .. name .. " must be a string", level + 1) end
  if value:find("[\r\n]") then error("sse:send: " .. name .. " cannot hold a line break", level + 1) end
  return value
end

-- The bytes of one event; errors are raised at `level` (2: the caller).
local function frame(data, options, level)
  if data == nil then error("sse:send: data cannot be nil", level) end
  options = helpers.check_options("sse:send", options,
    { event = { "string", "boolean" }, event_id = { "string", "number", "boolean" },
      retry = { "number", "boolean" }, comment = "boolean" }, level + 1)
  local text = data_text(data, level)
  local out = {}
  if options.comment then
    lines(": ", text, out)
  else
    if set(options.retry) then
      if type(options.retry) ~= "number" then error("sse:send: retry must be a number of seconds", level) end
      out[#out + 1] = "retry: " .. math_floor(options.retry * 1000) .. "\n"
    end
    if set(options.event) then out[#out + 1] = "event: " .. check_field("event", options.event, level) .. "\n" end
    if set(options.event_id) then out[#out + 1] = "id: " .. check_field("event_id", options.event_id, level) .. "\n" end
    lines("data: ", text, out)
  end
  out[#out + 1] = "\n"
  return concat(out)
end

--- The bytes of one event (what `send` writes).
---@param data any
---@param options? { event?: string, event_id?: string, retry?: number, comment?: boolean }
---@return string
function M.format_event(data, options)
  return frame(data, options, 3)
end

--- Sends an event: `retry: <ms>`, `event:`, `id:` (each when set), then a
--- `data:` line per line of the data and a blank line; `comment = true`
--- sends `: <data>` only. Tables are sent as JSON. Waits while the client
--- is behind; raises when the client has gone.
---@param data string|table|number|boolean
---@param options? { event?: string, event_id?: string, retry?: number, comment?: boolean }
function SSE:send(data, options)
  check_self(self, SSE, "sse", "send", "an SSE stream")
  local event = frame(data, options, 3)
  if self.closed or not co_isyieldable() then
    error("sse:send: the event stream is closed, or this is not its request", 2)
  end
  local ok, err = co_yield(SUSPEND, WRITE, event)
  if not ok then
    self.closed = true
    error(err or "sse:send: the event stream is closed, or this is not its request", 2)
  end
end

--- While a handler sleeps longer than this many seconds, an empty comment
--- line (":\n", which EventSource ignores) is written between its events
--- every this many seconds, so that a client that left is noticed (its
--- socket refuses the write) and the handler closed within about twice
--- this time. 0 turns it off.
M.probe_interval = 0.3

local PROBE = ":\n"

-- A suspension answer that means the client went away.
local function cancelled(answer)
  return answer[1] == false and answer[2] == "request cancelled"
end

-- A sleep of the handler's, passed up to the host in slices with a probe
-- written between them (see probe_interval). Returns the answer to give
-- the handler, and whether the client went away.
local function probed_sleep(seconds)
  local interval = M.probe_interval
  local remaining = seconds
  while true do
    local slice = remaining
    if type(interval) == "number" and interval > 0 and remaining > interval then slice = interval end
    local started = core.monotonic()
    local answer = pack(co_yield(SUSPEND, SLEEP, slice))
    if answer[1] == false then return answer, cancelled(answer) end
    remaining = remaining - slice
    if remaining <= 0 then return answer, false end
    if core.monotonic() - started < slice / 2 then
      -- Time does not pass here (a test script): no client to probe.
      return pack(co_yield(SUSPEND, SLEEP, remaining)), false
    end
    co_yield(PROBE)
  end
end

-- The stream body for `fn(req, sse, ...)`: a coroutine the server resumes
-- for each chunk. It runs the handler in a coroutine of its own until it
-- sends an event (given out as the chunk), ends or fails (an error that
-- cuts the stream); the handler's other suspensions (sleeps, async calls)
-- go up to the host. Closing the stream (the client left) closes the
-- handler's coroutine too.
local function event_stream(req, fn, sse, ...)
  local args = pack(...)
  local co = co_create(function() return fn(req, sse, unpack(args, 1, args.n)) end)
  return co_create(function()
    local _ <close> = setmetatable({}, { __close = function()
      sse.closed = true
      -- A coroutine that failed keeps its to-be-closed variables open
      -- until it is closed too.
      local status = co_status(co)
      if status == "suspended" or status == "dead" then co_close(co) end
    end })
    -- The head goes out before the handler runs: a sleep flushes it.
    local answer = pack(co_yield(SUSPEND, SLEEP, 0))
    if answer[1] == false then return end
    local gone = false
    local results = pack(host_resume(co))
    while true do
      if not results[1] then
        if gone then return end
        local message = results[2]
        if type(message) ~= "string" then message = tostring(message) end
        message = debug.traceback(co, message)
        sse.closed = true
        co_close(co)
        error(message, 0)
      end
      if co_status(co) == "dead" then return end
      if results[2] ~= SUSPEND then
        error("a with_sse handler yielded a value; send events with sse:send", 0)
      end
      if results[3] == WRITE then
        co_yield(results[4])
        answer = { true, n = 1 }
      elseif results[3] == SLEEP and type(results[4]) == "number" then
        answer, gone = probed_sleep(results[4])
      else
        answer = pack(co_yield(SUSPEND, select(3, unpack(results, 1, results.n))))
        gone = cancelled(answer)
      end
      results = pack(host_resume(co, unpack(answer, 1, answer.n)))
    end
  end)
end

--- A response that runs `fn(req, sse, ...)` as an event stream: 200,
--- `Content-Type: text/event-stream`; the stream ends when `fn` returns.
---@param req microdot.Request
---@param fn fun(req: microdot.Request, sse: microdot.sse.SSE, ...)
---@param ... any passed on to `fn` after `sse`
---@return microdot.Response
function M.sse_response(req, fn, ...)
  if not helpers.callable(fn) then error("sse_response expects a function", 2) end
  local sse = setmetatable({ closed = false }, SSE)
  return response.Response(event_stream(req, fn, sse, ...), 200,
    { ["Content-Type"] = "text/event-stream" })
end

--- Makes `f(req, sse, ...)` a route handler that answers with an event
--- stream (`app:get("/events", with_sse(f))`); URL arguments follow `sse`.
---@param f fun(req: microdot.Request, sse: microdot.sse.SSE, ...)
---@return fun(req: microdot.Request, ...): microdot.Response
function M.with_sse(f)
  if not helpers.callable(f) then error("with_sse expects a function", 2) end
  return helpers.wraps(function(req, ...) return M.sse_response(req, f, ...) end, f)
end

return M
