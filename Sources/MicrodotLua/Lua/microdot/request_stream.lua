-- req.stream: the request body as a stream (Microdot 2.7's
-- `request.stream`). A body over Request.max_body_length is not read before
-- the route: the stream takes it from the host as it arrives, suspending the
-- request's coroutine while nothing is there (the host stops reading the
-- socket while the route is behind). A body read whole is streamed from
-- req.body.
local core = require("microdot.core")
local errors = require("microdot.errors")

local error, setmetatable, tostring = error, setmetatable, tostring
local find, sub = string.find, string.sub
local concat = table.concat
local math_tointeger = math.tointeger
local co_yield, co_isyieldable = coroutine.yield, coroutine.isyieldable
local body_read, SUSPEND, BODY_WAIT = core.body_read, core.SUSPEND, core.BODY_WAIT
local abort, check_self = errors.abort, errors.check_self

local M = {}

--- The request body as a stream.
---@class microdot.RequestStream
---@field _ticket integer? the host's handle on a streamed body
---@field _buf string bytes taken from the host and not read yet, from _pos
---@field _pos integer
---@field _max_readline integer
local RequestStream = {}
RequestStream.__index = RequestStream
RequestStream.__name = "microdot.RequestStream"
M.RequestStream = RequestStream

-- Why the host has no more bytes, as the read raises it: the route answers
-- with the status through the app's error handlers, and the connection
-- closes after the response.
local failures = {
  too_large = { 413, "Payload too large" },
  timeout = { 408, "Request timeout" },
  unreadable = { 400, "Bad request" },
}

-- The next bytes from the host (at most `max`, any amount when nil), nil at
-- the end; waits (suspends the request) while none have arrived.
local function from_host(self, max)
  local ticket = self._ticket
  if ticket == nil then return nil end
  while true do
    local bytes, state = body_read(ticket, max)
    if bytes ~= nil then return bytes end
    if state == "end" then
      self._ticket = nil
      return nil
    elseif state == "wait" then
      if not co_isyieldable() then error("req.stream can only be read while the request is handled", 3) end
      local ok, err = co_yield(SUSPEND, BODY_WAIT)
      if not ok then error(err or "request cancelled", 3) end
    elseif failures[state] ~= nil then
      abort(failures[state][1], failures[state][2])
    else
      error("req.stream: the request is over; its body can no longer be read", 3)
    end
  end
end

-- Bytes are taken from _buf first, then from the host.
local function buffered(self)
  return #self._buf - self._pos + 1
end

local function take(self, n)
  local pos = self._pos
  local bytes = sub(self._buf, pos, pos + n - 1)
  self._pos = pos + #bytes
  return bytes
end

local function check_count(n, method)
  local count = math_tointeger(n)
  if count == nil or count < 1 then
    error("req.stream:" .. method .. " expects a positive integer number of bytes, got " .. tostring(n), 3)
  end
  return count
end

--- Up to `n` bytes as they come (at least one), or without `n` the rest of
--- the body; nil at its end.
---@param n? integer
---@return string?
function RequestStream:read(n)
  check_self(self, RequestStream, "req.stream", "read", "the request's stream")
  if n ~= nil then
    n = check_count(n, "read")
    if buffered(self) > 0 then return take(self, n) end
    return from_host(self, n)
  end
  local parts = {}
  if buffered(self) > 0 then parts[1] = take(self, buffered(self)) end
  while true do
    local bytes = from_host(self)
    if bytes == nil then break end
    parts[#parts + 1] = bytes
  end
  if #parts == 0 then return nil end
  return concat(parts)
end

--- Exactly `n` bytes; an error when the body ends first.
---@param n integer
---@return string
function RequestStream:readexactly(n)
  check_self(self, RequestStream, "req.stream", "readexactly", "the request's stream")
  n = check_count(n, "readexactly")
  local parts, missing = {}, n
  while missing > 0 do
    local bytes
    if buffered(self) > 0 then
      bytes = take(self, missing)
    else
      bytes = from_host(self, missing)
    end
    if bytes == nil then
      error(("req.stream:readexactly: the body ended after %d of the %d bytes asked for"):format(n - missing, n), 2)
    end
    parts[#parts + 1] = bytes
    missing = missing - #bytes
  end
  return concat(parts)
end

--- The next line, through its "\n" (the last one may lack it); nil at the
--- end. A line longer than Request.max_readline is an error.
---@return string?
function RequestStream:readline()
  check_self(self, RequestStream, "req.stream", "readline", "the request's stream")
  local limit = self._max_readline
  local from = self._pos
  while true do
    local newline = find(self._buf, "\n", from, true)
    if newline ~= nil and newline - self._pos + 1 <= limit then return take(self, newline - self._pos + 1) end
    if buffered(self) > limit then error("req.stream:readline: the line is longer than max_readline", 2) end
    local bytes = from_host(self)
    if bytes == nil then
      if buffered(self) == 0 then return nil end
      return take(self, buffered(self))
    end
    -- Only what is unread is kept: each byte is copied once per read.
    local rest = sub(self._buf, self._pos)
    from = #rest + 1
    self._buf, self._pos = rest .. bytes, 1
  end
end

--- The stream of a body: `ticket` names a streamed one in the host, else
--- `body` is the whole body.
---@param ticket integer?
---@param body string
---@param max_readline integer
---@return microdot.RequestStream
function M.new(ticket, body, max_readline)
  return setmetatable({ _ticket = ticket, _buf = body, _pos = 1, _max_readline = max_readline }, RequestStream)
end

return M
