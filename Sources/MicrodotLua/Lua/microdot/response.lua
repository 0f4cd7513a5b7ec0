-- Responses: the Response class, cookies, redirects, files, and the rules
-- that turn what a handler returns into a response (make_response).
local cookies = require("microdot.cookies")
local core = require("microdot.core")
local coroutines = require("microdot.coroutine")
local datastructures = require("microdot.datastructures")
local errors = require("microdot.errors")

local type, pairs, select, tostring, error, rawget, rawset, setmetatable, getmetatable =
  type, pairs, select, tostring, error, rawget, rawset, setmetatable, getmetatable
local math_tointeger = math.tointeger
local co_status, co_close = coroutine.status, coroutine.close
local resume, wrapped_threads = coroutines.resume, coroutines.wrapped_threads
local Headers, header_key, new_headers =
  datastructures.Headers, datastructures.header_key, datastructures.new_headers
local check_self, describe = errors.check_self, errors.describe

local M = {}

--- An HTTP response. `Response(body, status_code, headers, reason)` or
--- `Response.new(...)` makes one; a subclass is a table whose metatable's
--- __index is Response (or another subclass).
---@class microdot.Response
---@field status_code integer
---@field headers microdot.NoCaseDict
---@field body string|table|function|thread a string, a file, or a stream (a function or coroutine giving chunks)
---@field reason string? the status line's reason phrase (default: the standard one)
---@field default_content_type string for bodies without a Content-Type ("text/plain")
---@field default_send_file_max_age integer? Cache-Control max-age of send_file
---@field types_map table<string, string> file extension -> Content-Type, for send_file
---@overload fun(body?: any, status_code?: integer, headers?: table, reason?: string): microdot.Response
local Response = {}
Response.__index = Response
Response.__name = "microdot.Response"
Response.default_content_type = "text/plain"
Response.default_send_file_max_age = nil
Response.types_map = {
  css = "text/css",
  gif = "image/gif",
  html = "text/html",
  jpg = "image/jpeg",
  js = "application/javascript",
  json = "application/json",
  png = "image/png",
  txt = "text/plain",
  svg = "image/svg+xml",
}
M.Response = Response

-- A file to be streamed from disk by the host: path and size, never the bytes.
---@class microdot.FileBody
---@field path string
---@field size integer
local FileBody = {}
FileBody.__index = FileBody
FileBody.__name = "microdot.FileBody"

M.FileBody = FileBody

local search_classes = errors.search_classes
local function is_response_class(class)
  if class == Response then return true end
end

--- Whether `v` is a Response or an instance of a subclass of it.
---@param v any
---@return boolean
local function is_response(v)
  if getmetatable(v) == Response then return true end
  return search_classes(v, is_response_class) == true
end
M.is_response = is_response

--- A response of `class`; `nargs` tells an absent body from a nil one.
---@return microdot.Response
local function new_response(class, nargs, body, status_code, headers, reason)
  if nargs == 0 then body = "" end
  if status_code == nil then status_code = 200 end
  local status = math_tointeger(status_code)
  if status == nil or status < 100 or status > 999 then
    error("invalid status code: " .. tostring(status_code), 3)
  end
  if status < 200 then
    -- RFC 9110 section 15.2: interim, never the answer (the server sends
    -- 100 Continue itself).
    error("invalid status code: " .. status .. " (1xx statuses are interim, not a response)", 3)
  end
  if body == nil then
    if status == 200 then status = 204 end
    body = ""
  end
  headers = new_headers(headers)
  local kind = type(body)
  if kind == "table" and getmetatable(body) ~= FileBody then
    body = core.json.encode(body)
    if headers["Content-Type"] == nil then
      headers["Content-Type"] = "application/json; charset=UTF-8"
    end
  elseif kind == "number" then
    body = tostring(body)
  elseif kind ~= "string" and kind ~= "function" and kind ~= "thread" and kind ~= "table" then
    error("a response body cannot be a " .. kind
      .. " (return a string, a table to send as JSON, a number, a Response or a generator)", 3)
  end
  if reason ~= nil and type(reason) ~= "string" then
    error("reason must be a string", 3)
  end
  return setmetatable({ status_code = status, headers = headers, body = body, reason = reason },
    class)
end

local header_problem, reason_problem = core.header_problem, core.reason_problem

-- Raises `problem` at the app's call, `level` frames above check_wire (the
-- level check_wire itself would give error()). After a tail call (`return Response(...)` in a handler) that
-- frame is the framework's, which would be a misleading place to name: the
-- message says so instead.
local function wire_error(problem, level)
  local caller = debug.getinfo(level + 1, "S")
  if caller ~= nil and caller.source:sub(1, 10) == "@microdot/" then
    error(problem .. " (in a response a handler returned with a tail call, whose line Lua does not keep)", 0)
  end
  error(problem, level + 1)
end

-- The wire rules (RFC 9110 field-name and field-value, RFC 9112
-- reason-phrase) live in the host's response encoder; the public
-- constructors ask it, so a bad value raises at the app's call (`level`
-- counts from the caller of this function) rather than as an anonymous 500
-- when the response is written.
local function check_wire(headers, reason, level)
  if type(headers) == "table" then
    for name, value in pairs(headers) do
      if type(value) == "table" then
        for i = 1, #value do
          local problem = header_problem(name, value[i])
          if problem ~= nil then wire_error(problem, level + 1) end
        end
      else
        local problem = header_problem(name, value)
        if problem ~= nil then wire_error(problem, level + 1) end
      end
    end
  end
  if type(reason) == "string" then
    local problem = reason_problem(reason)
    if problem ~= nil then wire_error(problem, level + 1) end
  end
end

setmetatable(Response, {
  __call = function(class, ...)
    local nargs = select("#", ...)
    if nargs > 2 then check_wire(select(3, ...), select(4, ...), 2) end
    -- Not a tail call: new_response's errors name the caller's line.
    local res = new_response(class, nargs, ...)
    return res
  end,
})

M.new_response = new_response

--- A new response (as calling `Response(...)` does).
---@param body? any a string, a table (sent as JSON), a number, or a stream
---@param status_code? integer default 200 (204 for a nil body)
---@param headers? table<string, string|string[]>
---@param reason? string
---@return microdot.Response
function Response.new(...)
  local nargs = select("#", ...)
  if nargs > 2 then check_wire(select(3, ...), select(4, ...), 2) end
  local res = new_response(Response, nargs, ...)
  return res
end

local cookie_header = cookies.header

local function append_set_cookie(headers, header)
  local existing = headers["Set-Cookie"]
  if type(existing) == "table" then
    existing[#existing + 1] = header
  elseif existing ~= nil then
    headers["Set-Cookie"] = { existing, header }
  else
    headers["Set-Cookie"] = { header }
  end
end

--- Adds a Set-Cookie header. Every part is checked against RFC 6265
--- section 4.1.1 (the name a token; the value cookie-octets; Path and other
--- attributes without ";" or control characters; Domain a host name;
--- Expires an HTTP date; Max-Age an integer; SameSite Strict, Lax or None):
--- a part that does not fit raises here, so data cannot add attributes.
---@param cookie string
---@param value string
---@param options? microdot.CookieOptions
function Response:set_cookie(cookie, value, options)
  check_self(self, Response, "res", "set_cookie", "a Response")
  append_set_cookie(self.headers, cookie_header(cookie, value, options))
end

--- Adds a Set-Cookie header that expires the cookie.
---@param cookie string
---@param options? microdot.CookieOptions
function Response:delete_cookie(cookie, options)
  check_self(self, Response, "res", "delete_cookie", "a Response")
  local copy = {}
  for k, v in pairs(options or {}) do copy[k] = v end
  copy.expires = "Thu, 01 Jan 1970 00:00:01 GMT"
  copy.max_age = 0
  append_set_cookie(self.headers, cookie_header(cookie, "", copy))
end

-- What Microdot's Response.complete() does; the host adds Content-Length.
local default_type_set, default_type -- Response.default_content_type, completed

--- Response.default_content_type with its charset.
---@return string
local function default_content_type()
  local content_type = Response.default_content_type
  if content_type ~= default_type_set then
    default_type_set = content_type
    default_type = content_type:find("charset=", 1, true) and content_type
      or content_type .. "; charset=UTF-8"
  end
  return default_type
end

M.default_content_type = default_content_type

--- Gives `res` a header table and a Content-Type (what Microdot's
--- Response.complete() does; the host adds Content-Length).
---@param res microdot.Response
function M.complete(res)
  local headers = res.headers
  if getmetatable(headers) ~= Headers then
    headers = new_headers(headers)
    res.headers = headers
  end
  if rawget(headers, "Content-Type") == nil and header_key(headers, "Content-Type") == nil then
    rawset(headers, "Content-Type", default_content_type())
  end
end

--- A redirect to `location`.
---@param location string
---@param status_code? integer default 302
---@return microdot.Response
function M.redirect(location, status_code)
  location = tostring(location)
  local problem = header_problem("Location", location)
  if problem ~= nil then error("invalid redirect URL: " .. problem, 2) end
  return new_response(Response, 3, "", status_code or 302, { Location = location })
end
Response.redirect = M.redirect

--- A relative path resolved against the script's folder.
---@param filename string
---@return string
local function resolve_path(filename)
  if filename:sub(1, 1) == "/" or core.root == nil then return filename end
  return core.root .. "/" .. filename
end
M.resolve_path = resolve_path

local open_file = core.open_file
-- Header values send_file has found valid (types from types_map repeat).
local valid_file_headers, valid_file_header_count = {}, 0

-- Raises at send_file's caller when `value` cannot be written as `name`.
local function check_file_header(name, value)
  if valid_file_headers[value] then return end
  local problem = header_problem(name, value)
  if problem ~= nil then wire_error(problem, 3) end
  if valid_file_header_count >= 256 then valid_file_headers, valid_file_header_count = {}, 0 end
  valid_file_headers[value], valid_file_header_count = true, valid_file_header_count + 1
end

---@class microdot.SendFileOptions
---@field status_code? integer
---@field content_type? string default: from the extension, through Response.types_map
---@field max_age? integer Cache-Control max-age
---@field compressed? boolean|string a Content-Encoding (true: gzip)
---@field file_extension? string appended to the file name

--- A response that sends a file from disk; a relative path resolves against
--- the script's folder.
---@param filename string
---@param options? microdot.SendFileOptions
---@return microdot.Response
function M.send_file(filename, options)
  if type(filename) ~= "string" then error("send_file expects a file name", 2) end
  local content_type, max_age, compressed, extension, status_code
  if options ~= nil then
    content_type, max_age, compressed = options.content_type, options.max_age, options.compressed
    extension, status_code = options.file_extension, options.status_code
  end
  if content_type == nil then
    local name = filename
    if compressed and name:sub(-3) == ".gz" then name = name:sub(1, -4) end
    local ext = name:match("%.([^./]*)$") or name
    content_type = Response.types_map[ext] or "application/octet-stream"
  end
  -- Built as a plain table (its keys differ in more than case), then made
  -- a header table; only the values that can come from the app are checked.
  local headers = { ["Content-Type"] = content_type }
  check_file_header("Content-Type", content_type)
  if max_age == nil then max_age = Response.default_send_file_max_age end
  if max_age ~= nil then
    local value = "max-age=" .. tostring(math_tointeger(max_age) or max_age)
    check_file_header("Cache-Control", value)
    headers["Cache-Control"] = value
  end
  if compressed then
    local encoding = type(compressed) == "string" and compressed or "gzip"
    check_file_header("Content-Encoding", encoding)
    headers["Content-Encoding"] = encoding
  end
  setmetatable(headers, Headers)
  local path = resolve_path(extension and filename .. extension or filename)
  -- Opened here (or found unchanged in the worker's cache), so that a
  -- missing file raises at the call; the host sends that descriptor.
  local size, err = open_file(path)
  if size == nil then error(path .. ": " .. err, 2) end
  local body = setmetatable({ path = path, size = size }, FileBody)
  if status_code == nil then
    return setmetatable({ status_code = 200, headers = headers, body = body }, Response)
  end
  return new_response(Response, 3, body, status_code, headers)
end
Response.send_file = M.send_file

--- What a handler returned, as a response (the rules of the spec's table):
--- a Response; a body; a body and a status; a body and headers; a body, a
--- status and headers; or a status alone.
---@param body any
---@param status_or_headers? integer|table
---@param headers? table
---@return microdot.Response
function M.make_response(body, status_or_headers, headers)
  if type(body) == "string" and status_or_headers == nil then return new_response(Response, 1, body) end
  if is_response(body) then return body end
  if math_tointeger(body) ~= nil and type(body) == "number" then
    return new_response(Response, 3, "", body, status_or_headers)
  end
  if type(status_or_headers) == "number" then
    return new_response(Response, 3, body, status_or_headers, headers)
  end
  if type(status_or_headers) == "table" then
    return new_response(Response, 3, body, 200, status_or_headers)
  end
  if status_or_headers ~= nil then
    local shown = type(status_or_headers) == "string" and ("the string \"" .. status_or_headers .. "\"")
      or ("a " .. type(status_or_headers))
    error("a status code must be an integer, got " .. shown
      .. " (return body, 201 rather than body, \"201\"; headers go in a table)", 2)
  end
  return new_response(Response, 1, body)
end

M.JSON_TYPE = "application/json; charset=UTF-8"

--- The status a plain response (no Response built) may have: one with a
--- body and a Content-Length; nil when the handler's status rules it out.
---@param status_code any the handler's second return value
---@return integer?
function M.plain_status(status_code)
  if status_code == nil then return 200 end
  local status = type(status_code) == "number" and math_tointeger(status_code) or nil
  if status == nil or status < 200 or status > 599 or status == 204 or status == 304 then return nil end
  return status
end

-- Streams: a body that is a function (called until it returns nil) or a
-- coroutine (resumed until it is dead), giving strings.

--- Closes the coroutine behind the stream `body` (a thread, or the one a
--- coroutine.wrap function runs) when it is suspended, so that its
--- to-be-closed variables run.
---@param body any
function M.close_stream(body)
  local thread = type(body) == "thread" and body or wrapped_threads[body]
  if thread ~= nil and co_status(thread) == "suspended" then co_close(thread) end
end

--- `chunk` when it is a string; anything else (a number too, as in
--- Microdot, whose streams write bytes or str) is an error naming it.
---@param chunk any
---@return string
local function check_chunk(chunk)
  local kind = type(chunk)
  if kind ~= "string" then
    error("a stream gave " .. describe(chunk) .. "; chunks must be strings"
      .. (kind == "number" and " (give tostring(n))" or ""), 0)
  end
  return chunk
end
M.check_chunk = check_chunk

--- The first chunk of the stream `body`, or nil when it ends without one.
--- Taken before the head is sent, so that a generator failing at once is
--- a 500 through the app's error handling rather than a cut body.
---@param body function|thread
---@return string?
function M.first_chunk(body)
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
  return check_chunk(chunk)
end

--- The 500 response the server falls back on.
---@return microdot.Response
function M.internal_error()
  return new_response(Response, 3, "Internal server error", 500)
end

return M
