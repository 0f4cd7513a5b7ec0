-- The one module the host calls: `serve` runs a request, once per request,
-- in that request's own coroutine. The host protocol, whose constants the
-- host publishes in `microdot.core` (Runtime/HostProtocol.swift decodes it):
--
-- Arguments: serve(app, method, url, http_version, headers, body, host, port)
--   method, url      the request line's method and target ("/a?b=1")
--   http_version     "1.1" or "1.0"
--   headers          a plain table, name -> value (repeated headers joined)
--   body             the body bytes; nil when there is none; core.BODY_TOO_LARGE
--                    when it went over the request limits and was not kept
--   host, port       the client's address
--
-- Yields (the coroutine suspends; what the host resumes it with):
--   core.SUSPEND, core.SLEEP, seconds
--       resumed with true once the time has passed, or false and a message
--       when the client went away (the sleep then raises)
--   core.SUSPEND, core.AWAIT, ticket
--       an async host function's call (ticket from its starter); resumed with
--       true and the value, or false and the error
--   a Response table whose body is a function or a thread: a stream's head.
--       Resumed with true to send the chunks, false when nothing must follow
--       (a HEAD request, a client that left)
--   a string: the stream's next chunk. Resumed with true for the next one,
--       false to stop (the client went away)
--
-- Returns (the coroutine ends):
--   a Response table           the response, completed (headers is a NoCaseDict
--                              with a Content-Type)
--   body, content_type, status the plain fast path: a string body, its
--                              Content-Type and an integer status; the host
--                              writes its own head
--   nothing                    a stream's end (or a stream that was refused)
--
-- Response fields the host's ResponseEncoder reads: status_code (100-999),
-- reason (the status line's phrase, optional), headers (name -> string,
-- number or array of strings; a table or a NoCaseDict), body (a string, a
-- send_file FileBody {path, size}, or a stream: a function or a thread).
local core = require("microdot.core")
local coroutines = require("microdot.coroutine")
local dispatch = require("microdot.dispatch")
local errors = require("microdot.errors")
local request = require("microdot.request")
local response = require("microdot.response")

local type, tostring, error, pcall, xpcall, getmetatable = type, tostring, error, pcall, xpcall, getmetatable
local co_yield, co_status, co_close = coroutine.yield, coroutine.status, coroutine.close
local resume, wrapped_threads = coroutines.resume, coroutines.wrapped_threads
local new_request, dispatch_request = request.new_request, dispatch.dispatch
local complete, internal_error = response.complete, response.internal_error
local catch, CaughtError, log_error, describe_route =
  errors.catch, errors.CaughtError, errors.log_error, errors.describe_route
local BODY_TOO_LARGE = core.BODY_TOO_LARGE

-- Most of what a request allocates dies with it: the generational
-- collector handles that with less work than the incremental one.
collectgarbage("generational", 60, 100)

local M = {}

local function close_stream(body)
  local thread = type(body) == "thread" and body or wrapped_threads[body]
  if thread ~= nil and co_status(thread) == "suspended" then co_close(thread) end
end

local function send_chunk(body, chunk)
  local kind = type(chunk)
  if kind == "number" then
    chunk = tostring(chunk)
  elseif kind ~= "string" then
    error("a stream gave a " .. kind .. " value; chunks must be strings", 0)
  end
  if chunk ~= "" and not co_yield(chunk) then
    close_stream(body)
    return false
  end
  return true
end

local function pump(body)
  if type(body) == "thread" then
    while true do
      local ok, chunk = resume(body)
      if not ok then error(chunk, 0) end
      if co_status(body) == "dead" then return end
      if chunk ~= nil and not send_chunk(body, chunk) then return end
    end
  end
  while true do
    local chunk = body()
    if chunk == nil then return end
    if not send_chunk(body, chunk) then return end
  end
end

-- The stream's first chunk (nil when it gives none), taken before the head
-- is sent so that a generator failing at once is a clean 500.
local function first_chunk(body)
  local chunk
  if type(body) == "thread" then
    repeat
      local ok, value = resume(body)
      if not ok then error(value, 0) end
      if co_status(body) == "dead" then return nil end
      chunk = value
    until chunk ~= nil
  else
    chunk = body()
    if chunk == nil then return nil end
  end
  local kind = type(chunk)
  if kind == "number" then return tostring(chunk) end
  if kind ~= "string" then error("a stream gave a " .. kind .. " value; chunks must be strings", 0) end
  return chunk
end

local function pump_after(body, first)
  if first == nil then
    if type(body) == "thread" and co_status(body) == "dead" then return end
    if type(body) == "function" then return end
  elseif not send_chunk(body, first) then
    return
  end
  return pump(body)
end

-- Sends a stream's chunks. A failure goes up to the host, which logs it
-- and cuts the body; the message starts with the route and its handler.
local function stream(body, first, req)
  local ok, err = xpcall(pump_after, catch, body, first)
  if not ok then
    close_stream(body)
    local message = getmetatable(err) == CaughtError and err.traceback or err
    local route = describe_route(req)
    if route ~= nil and type(message) == "string" then message = route .. ": " .. message end
    error(message, 0)
  end
end

--- Runs one request (see the protocol above).
---@param app microdot.Microdot
---@return microdot.Response|string|nil
---@return string? content_type
---@return integer? status
function M.serve(app, method, url, http_version, headers, body, host, port)
  local body_too_large = body == BODY_TOO_LARGE
  if body_too_large then body = nil end
  local req = new_request(app, method, url, http_version, headers, body, host, port)
  local res, content_type, status = dispatch_request(app, req, body_too_large)
  if content_type ~= nil then return res, content_type, status end
  local ok, err = pcall(complete, res)
  if not ok then
    log_error(err, req)
    res = internal_error()
    complete(res)
  end
  local kind = type(res.body)
  if kind == "function" or kind == "thread" then
    local first
    if method ~= "HEAD" then
      local started, chunk = xpcall(first_chunk, catch, res.body)
      if not started then
        close_stream(res.body)
        log_error(chunk, req)
        res = internal_error()
        complete(res)
        return res
      end
      first = chunk
    end
    if co_yield(res) then
      stream(res.body, first, req)
    else
      close_stream(res.body)
    end
    return nil
  end
  return res
end

return M
