-- microdot.http: outbound HTTP requests (spec 17) on swift-server's
-- async-http-client, one client for the process. A request suspends only
-- the calling request's coroutine, as microdot.sleep; at a script's top
-- level it blocks.
local core = require("microdot.core")
local coroutines = require("microdot.coroutine")
local datastructures = require("microdot.datastructures")
local helpers = require("microdot.helpers")

local type, error, pairs, ipairs, tostring, math_type = type, error, pairs, ipairs, tostring, math.type
local await, headers_from_pairs, json_encode = coroutines.await, datastructures.headers_from_pairs, core.json.encode

local M = {}

local OPTIONS = {
  method = "string", url = "string", headers = "table", body = "string", json = "table",
  timeout = "number", max_body = "number", follow_redirects = "boolean",
}

-- Header values may be strings, numbers, or arrays of them (one line each).
local function header_pairs(headers)
  local list, has_type = {}, false
  for name, value in pairs(headers or {}) do
    if type(name) ~= "string" or name == "" or name:find("[%c :]") then
      error("http.request: header names must be non-empty strings without spaces, colons or controls, got "
        .. tostring(name), 4)
    end
    local values = type(value) == "table" and value or { value }
    for _, v in ipairs(values) do
      if type(v) ~= "string" and type(v) ~= "number" then
        error("http.request: header '" .. name .. "' must be a string, a number or an array of them", 4)
      end
      v = tostring(v)
      if v:find("[\r\n%z]") then error("http.request: header '" .. name .. "' holds a line break", 4) end
      list[#list + 1] = { name, v }
    end
    if name:lower() == "content-type" then has_type = true end
  end
  return list, has_type
end

-- The options checked (errors at http.request's caller), and the request
-- as the host takes it.
local function checked(options)
  if type(options) ~= "table" then
    error("http.request expects a table of options, got " .. type(options), 3)
  end
  helpers.check_options("http.request", options, OPTIONS, 4)
  if options.url == nil then error("http.request: url is required", 3) end
  local method = options.method or "GET"
  if not method:find("^[%w!#$%%&'*+.^_`|~-]+$") then
    error("http.request: method must be a token such as GET, got '" .. method .. "'", 3)
  end
  local timeout = options.timeout or 30
  if timeout ~= timeout or timeout <= 0 then error("http.request: timeout must be a positive number of seconds", 3) end
  local max_body = options.max_body or 16 * 1024 * 1024
  if math_type(max_body) ~= "integer" or max_body < 0 then
    error("http.request: max_body must be a non-negative integer (bytes)", 3)
  end
  if options.body ~= nil and options.json ~= nil then error("http.request: give body or json, not both", 3) end
  local headers, has_type = header_pairs(options.headers)
  local body = options.body
  if options.json ~= nil then
    local ok, encoded = pcall(json_encode, options.json)
    if not ok then error("http.request: json: " .. tostring(encoded), 3) end
    body = encoded
    if not has_type then headers[#headers + 1] = { "Content-Type", "application/json" } end
  end
  return {
    method = method, url = options.url, headers = headers, body = body,
    timeout = timeout, max_body = max_body, follow_redirects = options.follow_redirects or false,
  }
end

--- Sends one HTTP request and waits for the whole response (any status).
--- Options: url (http or https), method ("GET"), headers (name -> string,
--- number or array), body (a string) or json (a table, sent as JSON with
--- Content-Type application/json), timeout (30 seconds, for the whole
--- exchange), max_body (16 MiB), follow_redirects (false; true follows up
--- to 5). A wrong option is an error at the call.
---@param options { url: string, method?: string, headers?: table, body?: string, json?: table,
---  timeout?: number, max_body?: integer, follow_redirects?: boolean }
---@return { status: integer, headers: microdot.NoCaseDict, body: string }? response
---@return string? err naming the host: "connection refused: host:port", "timeout after 5 s: host:port",
---  "response body over N bytes: host:port", "invalid URL: ..."
function M.request(options)
  local ok, result = await(core.http_request(checked(options)))
  if not ok then return nil, result end
  return { status = result.status, headers = headers_from_pairs(result.headers), body = result.body }
end

return M
