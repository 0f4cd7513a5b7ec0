-- require("microdot.websocket"): WebSocket endpoints (RFC 6455), the twin
-- of Microdot 2.7's microdot.websocket. The handshake is checked here; the
-- frames are the host's (NIO's WebSocket codec). What waits suspends the
-- request's coroutine only, through the host protocol (server.lua):
--
--   core.SUSPEND, core.WEBSOCKET, core.WS_UPGRADE, accept, max_message_length
--       sends the 101 and leaves HTTP; resumed with true, or false, a
--       message and a status to answer with when the connection cannot be
--       upgraded
--   core.SUSPEND, core.WEBSOCKET, core.WS_RECEIVE [, timeout]
--       resumed with true, message, binary; true, nil, "timeout"; or
--       false, code, reason, by_client once the connection is closed
--   (receive, send and close may also answer false and a message: another
--   coroutine of the request, one it spawned, waits for the same already)
--   core.SUSPEND, core.WEBSOCKET, core.WS_SEND, data, binary
--       resumed with true once the connection takes more (or the closure)
--   core.SUSPEND, core.WEBSOCKET, core.WS_CLOSE, code, reason, wait
--       sends a close (empty without a code), waiting for the client's
--       when `wait`; resumed with true, or the closure when closed already
local core = require("microdot.core")
local errors = require("microdot.errors")
local helpers = require("microdot.helpers")
local request = require("microdot.request")

local type, tostring, error, xpcall, setmetatable, getmetatable =
  type, tostring, error, xpcall, setmetatable, getmetatable
local co_yield, co_isyieldable = coroutine.yield, coroutine.isyieldable
local math_tointeger, utf8_len = math.tointeger, utf8.len
local check_self, catch, CaughtError, HTTPException, log_error =
  errors.check_self, errors.catch, errors.CaughtError, errors.HTTPException, errors.log_error
local SUSPEND, WEBSOCKET = core.SUSPEND, core.WEBSOCKET
local WS_UPGRADE, WS_RECEIVE, WS_SEND, WS_CLOSE = core.WS_UPGRADE, core.WS_RECEIVE, core.WS_SEND, core.WS_CLOSE

local M = {}

--- Raised by `receive` and `send` once the connection is closed: by the
--- client (its close code, 1005 without one), by a drop (1006), by an
--- error the server closed for (1002, 1007, 1009) or by the server (1001
--- at shutdown). A with_websocket handler that ends with it ends silently.
---@class microdot.websocket.WebSocketError
---@field code integer
---@field reason string
local WebSocketError = {}
WebSocketError.__index = WebSocketError
WebSocketError.__name = "microdot.websocket.WebSocketError"
WebSocketError.__tostring = function(e)
  return "WebSocketError: connection closed (" .. tostring(e.code) .. ")"
    .. ((e.reason ~= nil and e.reason ~= "") and (": " .. e.reason) or "")
end
M.WebSocketError = WebSocketError

--- A WebSocketError with `code` and `reason`.
---@param code integer
---@param reason? string
---@return microdot.websocket.WebSocketError
function WebSocketError.new(code, reason)
  return setmetatable({ code = code, reason = reason or "" }, WebSocketError)
end
setmetatable(WebSocketError, { __call = function(_, ...) return WebSocketError.new(...) end })

--- A WebSocket connection, as Microdot's `WebSocket`: `request`, `closed`.
---@class microdot.websocket.WebSocket
---@field request microdot.Request
---@field closed boolean a close was sent or received, or the connection dropped
local WebSocket = {}
WebSocket.__index = WebSocket
WebSocket.__name = "microdot.websocket.WebSocket"
--- The longest message `receive` takes, fragments joined; longer ones
--- close the connection with 1009. -1 (the default): the value of
--- `microdot.Request.max_body_length`; 0: no limit.
WebSocket.max_message_length = -1
M.WebSocket = WebSocket

--- A WebSocket for `req` (not yet upgraded: see `handshake`).
---@param req microdot.Request
---@return microdot.websocket.WebSocket
function WebSocket.new(req)
  return setmetatable({ request = req, closed = false }, WebSocket)
end
setmetatable(WebSocket, { __call = function(_, req) return WebSocket.new(req) end })

local function header(req, name)
  local value = req.headers[name]
  if type(value) == "table" then value = value[1] end
  return value
end

--- The Sec-WebSocket-Accept value for the request, as Microdot's
--- `_handshake_response`: `Connection` containing "upgrade", `Upgrade`
--- equal to "websocket" (case-insensitive) and a `Sec-WebSocket-Key`, else
--- abort(400). A `Sec-WebSocket-Version` other than 13 answers 426 with
--- `Sec-WebSocket-Version: 13` (RFC 6455 section 4.2.2; Microdot ignores it).
---@return string
function WebSocket:_handshake_response()
  local req = self.request
  local connection, upgrade = header(req, "Connection"), header(req, "Upgrade")
  local key = header(req, "Sec-WebSocket-Key")
  if connection == nil or not connection:lower():find("upgrade", 1, true) then errors.abort(400) end
  if upgrade == nil or upgrade:lower() ~= "websocket" then errors.abort(400) end
  if key == nil or key == "" then errors.abort(400) end
  local version = header(req, "Sec-WebSocket-Version")
  if version ~= nil and version ~= "13" then
    error(setmetatable({ status_code = 426, reason = "426 error", headers = { ["Sec-WebSocket-Version"] = "13" } },
      HTTPException), 0)
  end
  return core.websocket_accept(key)
end

local function in_request(what)
  if not co_isyieldable() then error(what .. " can only be called while handling a request", 3) end
end

-- What a wait's answer means when the connection is closed.
local function closed_error(ws, code, reason)
  ws.closed = true
  return WebSocketError.new(code, reason)
end

--- Checks the handshake, sends the 101 and leaves HTTP.
function WebSocket:handshake()
  check_self(self, WebSocket, "ws", "handshake", "a WebSocket")
  local accept = self:_handshake_response()
  local limit = math_tointeger(self.max_message_length)
  if limit == nil or limit < -1 then
    error("WebSocket.max_message_length must be an integer, -1 or more, got " .. errors.describe(self.max_message_length), 2)
  end
  if limit == -1 then limit = request.Request.max_body_length end
  in_request("websocket_upgrade")
  local ok, message, status = co_yield(SUSPEND, WEBSOCKET, WS_UPGRADE, accept, limit)
  if not ok then
    if status ~= nil then errors.abort(status) end
    error(message, 2)
  end
end

--- The next message: a string and whether it is binary (text is valid
--- UTF-8), or nil and "timeout" when `timeout` seconds passed first.
--- Raises WebSocketError once the connection is closed.
---@param timeout? number seconds
---@return string? message
---@return boolean|string binary_or_timeout
function WebSocket:receive(timeout)
  check_self(self, WebSocket, "ws", "receive", "a WebSocket")
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
    error("ws:receive: timeout must be a non-negative number of seconds, got " .. errors.describe(timeout), 2)
  end
  in_request("ws:receive")
  local ok, message, binary = co_yield(SUSPEND, WEBSOCKET, WS_RECEIVE, timeout)
  -- Closed: message is the code, binary the reason; a string: misuse.
  if not ok then
    if type(message) == "string" then error(message, 2) end
    error(closed_error(self, message, binary), 0)
  end
  if message == nil then return nil, "timeout" end
  return message, binary
end

--- Sends a message: text (valid UTF-8) or, with `binary`, bytes. Waits
--- while the client is behind; raises WebSocketError once closed.
---@param data string
---@param binary? boolean
function WebSocket:send(data, binary)
  check_self(self, WebSocket, "ws", "send", "a WebSocket")
  if type(data) == "number" then data = tostring(data) end
  if type(data) ~= "string" then error("ws:send: data must be a string, got " .. errors.describe(data), 2) end
  if not binary and utf8_len(data) == nil then
    error("ws:send: text must be valid UTF-8 (send bytes with ws:send(data, true))", 2)
  end
  in_request("ws:send")
  local ok, code, reason = co_yield(SUSPEND, WEBSOCKET, WS_SEND, data, binary and true or false)
  if not ok then
    if type(code) == "string" then error(code, 2) end
    error(closed_error(self, code, reason), 0)
  end
end

local function valid_code(code)
  return (code >= 1000 and code <= 1003) or (code >= 1007 and code <= 1014) or (code >= 3000 and code <= 4999)
end

--- Sends a close (an empty one without a code, as Microdot), waits up to
--- 5 s for the client's, and closes the connection. Nothing when closed.
---@param code? integer 1000-1003, 1007-1014, 3000-4999
---@param reason? string at most 123 bytes of UTF-8
function WebSocket:close(code, reason)
  check_self(self, WebSocket, "ws", "close", "a WebSocket")
  if code ~= nil and (math_tointeger(code) == nil or not valid_code(math_tointeger(code))) then
    error("ws:close: code must be an integer in 1000-1003, 1007-1014 or 3000-4999, got " .. errors.describe(code), 2)
  end
  if reason ~= nil then
    if code == nil then error("ws:close: a reason needs a code", 2) end
    if type(reason) ~= "string" or #reason > 123 or utf8_len(reason) == nil then
      error("ws:close: reason must be a string of at most 123 bytes of UTF-8, got " .. errors.describe(reason), 2)
    end
  end
  if self.closed then return end
  self.closed = true
  in_request("ws:close")
  co_yield(SUSPEND, WEBSOCKET, WS_CLOSE, math_tointeger(code), reason, true)
end

--- Upgrades `req` (Microdot's `websocket_upgrade`): call it in a handler,
--- after checks of your own; returns the WebSocket.
---@param req microdot.Request
---@return microdot.websocket.WebSocket
function M.websocket_upgrade(req)
  local ws = WebSocket.new(req)
  ws:handshake()
  return ws
end

-- Whether a with_websocket handler's error is the connection's end: a
-- WebSocketError, or a wait the client's going cut short.
local function is_closure(err, by_client)
  local value = getmetatable(err) == CaughtError and err.value or err
  if getmetatable(value) == WebSocketError then return true end
  return by_client and type(value) == "string" and value:find("request cancelled", 1, true) ~= nil
end

--- Makes `f(req, ws, ...)` a WebSocket route handler (Microdot's
--- `with_websocket`); URL arguments follow `ws`. Hooks and outer
--- decorators run before the upgrade. When `f` returns, or raises, a close
--- goes to the client (1011 after an error, which is logged unless it is
--- the connection's end); the after-request hooks then run, and nothing
--- more is sent.
---@param f fun(req: microdot.Request, ws: microdot.websocket.WebSocket, ...)
---@return fun(req: microdot.Request, ...)
function M.with_websocket(f)
  if not helpers.callable(f) then error("with_websocket expects a function", 2) end
  return helpers.wraps(function(req, ...)
    local ws = M.websocket_upgrade(req)
    local ok, err = xpcall(f, catch, req, ws, ...)
    local failed = not ok
    local sent, _, _, by_client = co_yield(SUSPEND, WEBSOCKET, WS_CLOSE, (failed and 1011) or nil, nil, false)
    ws.closed = true
    if failed and not is_closure(err, not sent and by_client) then log_error(err, req) end
    return nil
  end, f)
end

return M
