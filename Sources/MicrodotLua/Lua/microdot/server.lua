-- The one module the host calls: `serve` runs a request, once per request,
-- in that request's own coroutine. The host protocol, whose constants the
-- host publishes in `microdot.core` (Runtime/HostProtocol.swift decodes it):
--
-- Arguments: serve(app, method, url, http_version, headers, body, host, port,
--                  scheme, request_id)
--   method, url      the request line's method and target ("/a?b=1")
--   http_version     "1.1" or "1.0"
--   headers          a plain table, name -> value (repeated headers joined)
--   body             the body bytes; nil when there is none; core.BODY_TOO_LARGE
--                    when it went over the request limits and was not kept;
--                    an integer when it streams (over max_body_length): the
--                    ticket req.stream reads it with (core.body_read)
--   host, port       the client's address
--   scheme           "http" or "https"
--   request_id       the request's id while the server logs (else nil:
--                    req.request_id makes one when read)
--
-- Yields (the coroutine suspends; what the host resumes it with):
--   core.SUSPEND, core.SLEEP, seconds
--       resumed with true once the time has passed, or false and a message
--       when the client went away (the sleep then raises)
--   core.SUSPEND, core.AWAIT, ticket
--       an async host function's call (ticket from its starter); resumed with
--       true and the value, or false and the error
--   core.SUSPEND, core.WEBSOCKET, op, ...
--       a WebSocket's upgrade, receive, send or close (websocket.lua's
--       header lists them and their answers)
--   core.SUSPEND, core.BODY_WAIT
--       req.stream waits for more of the body; resumed with true once
--       something arrived (or the body ended or failed: core.body_read
--       says which), or false and a message when the client went away
--   core.SUSPEND, core.WAIT, key [, seconds]
--       until the host wakes `key` (a pub/sub message for subscription `key`,
--       the end of spawned coroutine `key`): resumed with true; or false and
--       "timeout" once the seconds pass, "request cancelled" when the
--       request ends
--   core.SUSPEND, core.SPAWN, id
--       start background job `id` (microdot.background) in a coroutine of
--       its own now; resumed with true once it first waits or ends
--   a Response table whose body is a function or a thread, then the
--       matched route's pattern (or nil): a stream's head.
--       Resumed with true to send the chunks, false when nothing must follow
--       (a HEAD request, a client that left)
--   a string: the stream's next chunk. Resumed with true for the next one,
--       false to stop (the client went away)
--
-- Returns (the coroutine ends):
--   a Response table           the response, completed (headers is a NoCaseDict
--                              with a Content-Type) and checked
--                              (dispatch's finish), then nil, nil, pattern
--   body, content_type, status the plain fast path: a string body, its
--                              Content-Type and an integer status; the host
--                              writes its own head; then pattern
--   (pattern: the matched route's URL pattern with its mount prefix, or
--   nil: the metrics' `route` label)
--   nothing                    a stream's end (or a stream that was refused)
--
-- Response fields the host's ResponseEncoder reads: status_code (200-999),
-- reason (the status line's phrase, optional), headers (name -> string,
-- number or array of strings; a table or a NoCaseDict), body (a string, a
-- send_file FileBody {path, size}: the host sends the file at path, opened
-- by send_file; or a stream: a function or a thread).
local core = require("microdot.core")
local coroutines = require("microdot.coroutine")
local dispatch = require("microdot.dispatch")
local errors = require("microdot.errors")
local request = require("microdot.request")
local response = require("microdot.response")

local type, error, xpcall, getmetatable = type, error, xpcall, getmetatable
local co_yield, co_status = coroutine.yield, coroutine.status
local resume = coroutines.resume
local new_request, dispatch_request, close_uploads = request.new_request, dispatch.dispatch, request.close_uploads
local math_type, setmetatable = math.type, setmetatable
local close_stream, check_chunk = response.close_stream, response.check_chunk
local catch, CaughtError, traceback_for, describe_route =
  errors.catch, errors.CaughtError, errors.traceback_for, errors.describe_route
local BODY_TOO_LARGE = core.BODY_TOO_LARGE

-- Most of what a request allocates dies with it: the generational
-- collector handles that with less work than the incremental one.
collectgarbage("generational", 60, 100)

local M = {}

-- Closes a streamed request's spooled uploads however serve ends (the host
-- removes the files).
local UploadsCloser = {
  __close = function(closer)
    close_uploads(closer[1])
  end,
}

local function send_chunk(body, chunk)
  if type(chunk) ~= "string" then check_chunk(chunk) end
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

local function pump_after(body, first)
  if first == nil then
    if type(body) == "thread" and co_status(body) == "dead" then return end
    if type(body) == "function" then return end
  elseif not send_chunk(body, first) then
    return
  end
  return pump(body)
end

-- The chunks after the first (dispatch took it). The head is sent: an
-- error can only cut the body; the host logs it, the message naming the
-- route and the handler.
local function stream(body, first, req)
  local ok, err = xpcall(pump_after, catch, body, first)
  if not ok then
    close_stream(body)
    local message = getmetatable(err) == CaughtError and traceback_for(err, req) or err
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
function M.serve(app, method, url, http_version, headers, body, host, port, scheme, request_id)
  local body_too_large = body == BODY_TOO_LARGE
  if body_too_large then body = nil end
  local ticket
  if body ~= nil and math_type(body) == "integer" then ticket, body = body, nil end
  local req = new_request(app, method, url, http_version, headers, body, host, port, scheme, ticket, request_id)
  local uploads <close> = ticket and setmetatable({ req }, UploadsCloser) or nil -- luacheck: ignore 211
  local res, content_type, status, first = dispatch_request(app, req, body_too_large, method ~= "HEAD")
  local pattern = req._route_pattern or nil
  if content_type ~= nil then return res, content_type, status, pattern end
  local kind = type(res.body)
  if kind == "function" or kind == "thread" then
    if co_yield(res, pattern) then
      stream(res.body, first, req)
    else
      close_stream(res.body)
    end
    return nil
  end
  return res, nil, nil, pattern
end

return M
