-- The test client: requests dispatched in process by the host's own request
-- driver (the Swift RequestTask, with a sink that collects the bytes instead
-- of a socket), and read back from those bytes, so that header checks,
-- Content-Length, HEAD and streams behave as on a socket. Inside a request
-- the call suspends it like an async host function; at a script's top level
-- it waits, and time does not pass (a sleep ends at once).
local core = require("microdot.core")
local application = require("microdot.application")
local coroutines = require("microdot.coroutine")
local datastructures = require("microdot.datastructures")
local websocket = require("microdot.websocket")

local type, pairs, ipairs, tostring, tonumber, error, pcall, rawget, rawset, setmetatable, getmetatable =
  type, pairs, ipairs, tostring, tonumber, error, pcall, rawget, rawset, setmetatable, getmetatable
local concat = table.concat
local find, sub, byte = string.find, string.sub, string.byte
local math_tointeger = math.tointeger
local new_headers = datastructures.new_headers

local M = {}

--- A response as the test client read it.
---@class microdot.TestResponse
---@field status_code integer
---@field reason string
---@field headers microdot.NoCaseDict a repeated header is an array of its values
---@field body string
---@field text string the body
---@field json any the body decoded, when the Content-Type is JSON
---@field stream_error string? why a stream stopped after its head was sent
---@field events microdot.TestEvent[]? the events of a text/event-stream body
local TestResponse = {}

--- One server-sent event, as Microdot's TestResponse.events has it.
---@class microdot.TestEvent
---@field data string the data lines, joined with "\n"
---@field data_json any the data decoded as JSON, when it is JSON
---@field event string?
---@field event_id string?
---@field retry number? seconds

-- The events of an event-stream body: blocks separated by a blank line,
-- fields as Microdot's test client reads them (values trimmed); a block
-- without data is skipped.
local function parse_events(body)
  local events = {}
  body = body:gsub("\r\n", "\n")
  for block in (body .. "\n\n"):gmatch("(.-)\n\n") do
    local data, event, event_id, retry = {}, nil, nil, nil
    for line in (block .. "\n"):gmatch("(.-)\n") do
      local field, value = line:match("^([%w]+):(.*)$")
      if field ~= nil then
        value = datastructures.strip(value)
        if field == "data" then
          data[#data + 1] = value
        elseif field == "event" then
          event = value
        elseif field == "id" then
          event_id = value
        elseif field == "retry" then
          retry = (tonumber(value) or 0) / 1000
        end
      end
    end
    local text = concat(data, "\n")
    if text ~= "" then
      local ok, decoded = pcall(core.json.decode, text)
      events[#events + 1] = {
        data = text, data_json = ok and decoded or nil, event = event, event_id = event_id, retry = retry,
      }
    end
  end
  return events
end
TestResponse.__name = "microdot.TestResponse"
TestResponse.__index = function(res, key)
  if key == "text" then return rawget(res, "body") end
  if key == "json" then
    local content_type = res.headers["Content-Type"]
    if type(content_type) ~= "string" or not content_type:lower():find("^%s*application/json") then
      return nil
    end
    local value = core.json.decode(res.body)
    rawset(res, "json", value)
    return value
  end
  if key == "events" then
    local content_type = res.headers["Content-Type"]
    if type(content_type) ~= "string" or not content_type:lower():find("^%s*text/event%-stream") then
      return nil
    end
    local events = parse_events(res.body)
    rawset(res, "events", events)
    return events
  end
end
M.TestResponse = TestResponse

-- What the host collected for a request: status, reason, headers (an array
-- of {name, value}), body and, when the response was cut short, failure.
-- A request that did not end at once (a sleep in a served request) is
-- waited for like an async host call; one that did is not, so the client
-- also works inside the script's own coroutines.
local function run_request(app, method, url, headers, body)
  local ok, value = core.test_request(app, method, url, headers, body)
  if ok == nil then ok, value = coroutines.await(value) end
  if not ok then error(value, 3) end
  return value
end

local function test_response(collected)
  local headers = datastructures.headers_from_pairs(collected.headers)
  return setmetatable({
    status_code = collected.status,
    reason = collected.reason,
    headers = headers,
    body = collected.body,
    stream_error = collected.failure,
  }, TestResponse)
end

--- A client that sends requests to an app in process.
---@class microdot.TestClient
---@field app microdot.Microdot
---@field cookies table<string, string> sent with every request; Set-Cookie updates them
---@field headers table<string, string> sent with every request
---@field get fun(self: microdot.TestClient, path: string, options?: microdot.TestRequestOptions): microdot.TestResponse
---@field post fun(self: microdot.TestClient, path: string, options?: microdot.TestRequestOptions): microdot.TestResponse
---@field put fun(self: microdot.TestClient, path: string, options?: microdot.TestRequestOptions): microdot.TestResponse
---@field patch fun(self: microdot.TestClient, path: string, options?: microdot.TestRequestOptions): microdot.TestResponse
---@field delete fun(self: microdot.TestClient, path: string, options?: microdot.TestRequestOptions): microdot.TestResponse
---@field head fun(self: microdot.TestClient, path: string, options?: microdot.TestRequestOptions): microdot.TestResponse
---@field options fun(self: microdot.TestClient, path: string, options?: microdot.TestRequestOptions): microdot.TestResponse
local TestClient = {}
TestClient.__index = TestClient
TestClient.__name = "microdot.TestClient"

--- A test client for `app`.
---@param app microdot.Microdot
---@param options? { cookies?: table<string, any>, headers?: table<string, any> }
---@return microdot.TestClient
function M.test_client(app, options)
  if getmetatable(app) ~= application.Microdot then error("test_client expects a Microdot app", 2) end
  options = options or {}
  local client = setmetatable({ app = app, cookies = {}, headers = {} }, TestClient)
  for name, value in pairs(options.cookies or {}) do client.cookies[name] = tostring(value) end
  for name, value in pairs(options.headers or {}) do client.headers[name] = value end
  return client
end

-- `s` without leading whitespace, but never empty when `s` is not (what
-- `^%s*([^=]+)` captures: %s* gives back a byte).
local function lstrip(s)
  return sub(s, math.min(find(s, "%S") or #s, #s))
end

-- The name, value and attributes of a Set-Cookie value, or nil: what
-- `^%s*([^=;]+)=([^;]*)(.*)$` captures, in linear time.
local function cookie_pair(cookie)
  local equals = find(cookie, "[=;]")
  if equals == nil or equals == 1 or byte(cookie, equals) ~= 61 then return nil end
  local semi = find(cookie, ";", equals + 1, true) or #cookie + 1
  return lstrip(sub(cookie, 1, equals - 1)), sub(cookie, equals + 1, semi - 1), sub(cookie, semi)
end

-- Remembers cookies the way a browser would, forgetting deleted ones.
local function update_cookies(client, res)
  local set_cookie = res.headers["Set-Cookie"]
  if set_cookie == nil then return end
  if type(set_cookie) == "string" then set_cookie = { set_cookie } end
  for _, cookie in ipairs(set_cookie) do
    local name, value, attributes = cookie_pair(cookie)
    if name ~= nil then
      local deleted = false
      for attribute in attributes:gmatch("[^;]+") do
        local equals = find(attribute, "=", 1, true)
        local key = equals and lstrip(sub(attribute, 1, equals - 1)):lower()
        local setting = equals and datastructures.strip(sub(attribute, equals + 1))
        if key == "max-age" and (math_tointeger(tonumber(setting)) or 0) <= 0 then
          deleted = true
        elseif key == "expires" and setting:lower():find("01 jan 1970", 1, true) then
          deleted = true
        end
      end
      client.cookies[name] = (not deleted) and value or nil
    end
  end
end

---@class microdot.TestRequestOptions
---@field headers? table<string, any>
---@field body? string|fun(): string? a string, or a function giving chunks (nil at the end): a chunked body
---@field json? any sent as JSON (with Content-Type application/json)

-- The headers a request of `client` carries: the client's, the options',
-- Host, the cookie jar; the body's Content-Length. Returns headers, body.
local function request_headers(client, options)
  local headers = new_headers()
  for name, value in pairs(client.headers) do headers[name] = tostring(value) end
  for name, value in pairs(options.headers or {}) do headers[name] = tostring(value) end
  if headers["Host"] == nil then headers["Host"] = "localhost" end
  local body = options.body
  if options.json ~= nil then
    body = core.json.encode(options.json)
    if headers["Content-Type"] == nil then headers["Content-Type"] = "application/json" end
  end
  if type(body) == "function" then
    -- A body that streams: its chunks, sent as a chunked body.
    local chunks = {}
    for chunk in body do chunks[#chunks + 1] = tostring(chunk) end
    body = chunks
    headers["Content-Length"] = nil
    headers["Transfer-Encoding"] = "chunked"
  elseif body ~= nil then
    body = tostring(body)
    headers["Content-Length"] = tostring(#body)
  end
  local jar = {}
  for name, value in pairs(client.cookies) do jar[#jar + 1] = name .. "=" .. value end
  if #jar > 0 then
    table.sort(jar)
    local cookie = concat(jar, "; ")
    headers["Cookie"] = headers["Cookie"] and (headers["Cookie"] .. "; " .. cookie) or cookie
  end
  return headers, body
end

--- Sends a request; the client's cookies and headers go with it.
---@param method string
---@param path string the request target, query string included
---@param options? microdot.TestRequestOptions
---@return microdot.TestResponse
function TestClient:request(method, path, options)
  options = options or {}
  method = tostring(method):upper()
  local headers, body = request_headers(self, options)
  local res = test_response(run_request(self.app, method, path, headers, body))
  update_cookies(self, res)
  return res
end

--- The client's end of a WebSocket opened by `client:websocket`.
---@class microdot.TestWebSocket
---@field closed boolean
---@field close_code integer? the code of the server's close (nil for an empty one)
---@field close_reason string?
local TestWebSocket = {}
TestWebSocket.__index = TestWebSocket
TestWebSocket.__name = "microdot.TestWebSocket"
M.TestWebSocket = TestWebSocket

-- A host answer: now, or after waiting for the server (on its event loop).
local function ws_call(ok, value)
  if ok == nil then ok, value = coroutines.await(value) end
  if not ok then error(value, 3) end
  return value
end

local function closed_error(ws)
  return websocket.WebSocketError(ws.close_code or 1005, ws.close_reason or "")
end

-- The server's close arrived: remembered, as the error receive raises.
local function got_close(ws, event)
  ws.closed = true
  ws._close = event
  ws.close_code, ws.close_reason = event.code, event.reason
end

--- The server's next message and whether it is binary. Raises
--- WebSocketError (its `code` and `reason`) once the server closed.
---@return string message
---@return boolean binary
function TestWebSocket:receive()
  if self._close ~= nil then error(closed_error(self), 2) end
  local event = ws_call(core.test_ws_receive(self._id))
  if event.closed then
    got_close(self, event)
    error(closed_error(self), 2)
  end
  return event.data, event.binary
end

--- Sends a message to the handler: text (checked by the server as UTF-8)
--- or, with `binary`, bytes.
---@param data string
---@param binary? boolean
function TestWebSocket:send(data, binary)
  if type(data) ~= "string" then error("ws:send expects a string", 2) end
  if self.closed or not core.test_ws_send(self._id, data, binary and true or false) then
    error(closed_error(self), 2)
  end
end

--- Closes (a close frame with `code` and `reason`, empty without a code)
--- and takes the server's answer; messages not received are dropped.
---@param code? integer
---@param reason? string
function TestWebSocket:close(code, reason)
  -- After the server's close this is the answer it waits for.
  if self._sent_close then return end
  self._sent_close = true
  self.closed = true
  core.test_ws_close(self._id, code, reason)
  while self._close == nil do
    local event = ws_call(core.test_ws_receive(self._id))
    if event.closed then got_close(self, event) end
  end
end

--- Opens a WebSocket to `path` and runs `fn(ws)`; closes it (1000) when
--- `fn` returns, unless closed. Returns the handshake's response (101,
--- with `websocket`, the TestWebSocket), then what `fn` returned; a
--- refused upgrade returns the response (400, 401...) and `fn` is not run.
---@param path string
---@param fn fun(ws: microdot.TestWebSocket): ...
---@param options? { headers?: table<string, any> }
---@return microdot.TestResponse
function TestClient:websocket(path, fn, options)
  if type(path) ~= "string" or type(fn) ~= "function" then
    error("client:websocket expects a path and a function", 2)
  end
  local headers = request_headers(self, options or {})
  local defaults = {
    Upgrade = "websocket", Connection = "Upgrade", ["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ==",
    ["Sec-WebSocket-Version"] = "13",
  }
  for name, value in pairs(defaults) do
    if headers[name] == nil then headers[name] = value end
  end
  local plain = {}
  for name, value in pairs(headers) do plain[name] = value end
  local value = ws_call(core.test_websocket(self.app, path, plain))
  if value.upgraded == nil then
    local res = test_response(value)
    update_cookies(self, res)
    return res
  end
  local res = test_response(value.head)
  local ws = setmetatable({ _id = value.upgraded, closed = false }, TestWebSocket)
  res.websocket = ws
  local results = table.pack(pcall(fn, ws))
  ws:close(1000)
  if not results[1] then error(results[2], 0) end
  return res, table.unpack(results, 2, results.n)
end

for _, method in ipairs({ "get", "post", "put", "patch", "delete", "head", "options" }) do
  local upper = method:upper()
  TestClient[method] = function(self, path, options)
    return self:request(upper, path, options)
  end
end

return M
