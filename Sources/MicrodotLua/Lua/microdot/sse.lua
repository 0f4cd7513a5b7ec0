-- require("microdot.sse"): server-sent events, the twin of Microdot 2.7's
-- microdot.sse. The handler runs in a coroutine of its own, driven as the
-- response's stream: each sse:send is one chunk, so it waits while the
-- client is behind, and a client that leaves closes the coroutine (its
-- to-be-closed variables run), even while it sleeps.
local core = require("microdot.core")
local coroutines = require("microdot.coroutine")
local helpers = require("microdot.helpers")
local response = require("microdot.response")

local type, tostring, error, select, setmetatable, math_floor, math_type =
  type, tostring, error, select, setmetatable, math.floor, math.type
local co_create, co_yield, co_status, co_close, co_isyieldable =
  coroutine.create, coroutine.yield, coroutine.status, coroutine.close, coroutine.isyieldable
local host_resume, pack, unpack, concat = core.resume, table.pack, table.unpack, table.concat
local SUSPEND, SLEEP = core.SUSPEND, core.SLEEP

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
local function lines(prefix, text, out)
  local start = 1
  while true do
    local i, j = text:find("\r?\n", start)
    local r = text:find("\r", start, true)
    if r ~= nil and (i == nil or r < i) then i, j = r, r end
    if i == nil then break end
    out[#out + 1] = prefix .. text:sub(start, i - 1) .. "\n"
    start = j + 1
  end
  out[#out + 1] = prefix .. text:sub(start) .. "\n"
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

-- A suspension answer that means the client went away.
local function cancelled(answer)
  return answer[1] == false and answer[2] == "request cancelled"
end

-- The stream body for `fn(req, sse, ...)`: a function the server calls for
-- each chunk. It resumes the handler's coroutine until it sends an event
-- (returned as the chunk), ends (nil) or fails (an error that cuts the
-- stream); other suspensions (sleeps, async calls) go up to the host.
local function event_stream(req, fn, sse, ...)
  local args = pack(...)
  local co = co_create(function() return fn(req, sse, unpack(args, 1, args.n)) end)
  local started, gone = false, false
  local function finish(results)
    sse.closed = true
    if results[1] then return nil end
    local message = results[2]
    if type(message) ~= "string" then message = tostring(message) end
    local traceback = debug.traceback(co, message)
    co_close(co)
    if gone then return nil end
    error(traceback, 0)
  end
  local function body()
    if sse.closed then return nil end
    local results
    if not started then
      started = true
      -- The head goes out before the handler runs: a sleep flushes it.
      local answer = pack(co_yield(SUSPEND, SLEEP, 0))
      if answer[1] == false then
        sse.closed = true
        co_close(co)
        return nil
      end
      results = pack(host_resume(co))
    else
      results = pack(host_resume(co, true))
    end
    while true do
      if not results[1] or co_status(co) == "dead" then return finish(results) end
      if results[2] == SUSPEND and results[3] == WRITE then return results[4] end
      if results[2] ~= SUSPEND then
        results = { false, "a with_sse handler yielded a value; send events with sse:send" }
        return finish(results)
      end
      local answer = pack(co_yield(SUSPEND, select(3, unpack(results, 1, results.n))))
      if cancelled(answer) then gone = true end
      results = pack(host_resume(co, unpack(answer, 1, answer.n)))
    end
  end
  -- So that the server closes the handler's coroutine when the client goes.
  coroutines.wrapped_threads[body] = co
  return body
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
