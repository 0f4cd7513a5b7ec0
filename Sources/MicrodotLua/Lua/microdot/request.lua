-- Requests: the Request class, whose fields past the basic ones (args,
-- cookies, form, json...) are computed the first time they are read.
local core = require("microdot.core")
local datastructures = require("microdot.datastructures")
local errors = require("microdot.errors")
local multipart = require("microdot.multipart")
local request_stream = require("microdot.request_stream")
local routing_path = require("microdot.router").routing_path

local tonumber, pcall, rawget, rawset, setmetatable = tonumber, pcall, rawget, rawset, setmetatable
local find, sub = string.find, string.sub
local math_tointeger = math.tointeger
local check_self = errors.check_self
local Headers, percent_decode, parse_urlencoded, strip =
  datastructures.Headers, datastructures.percent_decode, datastructures.parse_urlencoded, datastructures.strip

local M = {}

--- A request being handled. The class holds the body limits the host reads
--- once the script has run.
---@class microdot.Request
---@field app microdot.Microdot
---@field method string
---@field url string the request target, query string included
---@field path string percent-decoded
---@field query_string string?
---@field http_version string "1.1" or "1.0"
---@field scheme string
---@field headers microdot.NoCaseDict
---@field body string "" when the body streams (over max_body_length)
---@field stream microdot.RequestStream the body as a stream
---@field url_prefix string the mount prefix of the route's sub-app
---@field subapp microdot.Microdot|false the mounted app the route came from
---@field route function|false the route's handler
---@field url_args table<string, any> the URL pattern's arguments by name
---@field args microdot.MultiDict the query string
---@field cookies table<string, string>
---@field content_length integer? nil for a chunked body that streams
---@field content_type string?
---@field form microdot.MultiDict? an urlencoded or multipart form
---@field files microdot.MultiDict? the files of a multipart form
---@field json any a JSON body, decoded
---@field g table per-request storage for the app
---@field client_addr { [1]: string, [2]: integer } host and port
---@field request_id string the client's valid X-Request-Id, else 32 random hex digits (spec 21)
---@field max_content_length integer
---@field max_body_length integer
---@field max_readline integer
local Request = {}
Request.__name = "microdot.Request"
Request.max_content_length = 16 * 1024 * 1024
Request.max_body_length = 16 * 1024 * 1024
Request.max_readline = 8 * 1024
M.Request = Request

-- What the host received sits in the request table's array part, filled
-- by one table constructor (a hash of named fields costs twice as much to
-- build): these slots are read and written under their names through the
-- metatable. `route` and `url_args` are dispatch's, kept here for the same
-- reason.
local slots = {
  app = 1, method = 2, url = 3, http_version = 4, headers = 5, body = 6,
  _host = 7, _port = 8, scheme = 9, _ticket = 10, route = 11, url_args = 12,
  -- The host's id while it logs (else computed when read); the matched
  -- route's pattern for the metrics.
  request_id = 13, _route_pattern = 14,
}
local TICKET, HOST, PORT = slots._ticket, slots._host, slots._port
M.slots = slots

-- Fields that are fixed until dispatch sets them (a mounted app's route).
local defaults = { url_prefix = "", subapp = false }

--- The fields computed the first time they are read, by name: `f(req)`
--- gives the value, kept in the request. An extension adds its own here
--- (before any request reads the name).
---@type table<string, fun(req: microdot.Request): any>
local request_fields = {}
M.fields = request_fields

-- The path, percent-decoded, and the query string are split off the URL
-- when first read.
function request_fields.path(req)
  local url = req.url
  local q = find(url, "?", 1, true)
  local path = q ~= nil and sub(url, 1, q - 1) or url
  -- Routes match the path split before it is decoded (see routing_path).
  if find(path, "%", 1, true) ~= nil then path = percent_decode(routing_path(path)) end
  return path
end

function request_fields.query_string(req)
  local url = req.url
  local q = find(url, "?", 1, true)
  if q ~= nil then return sub(url, q + 1) end
  return nil
end

function request_fields.args(req)
  return parse_urlencoded(req.query_string)
end

-- Split on ';' and the first '=', then stripped: linear in the header.
function request_fields.cookies(req)
  local cookies = {}
  local header = req.headers["Cookie"]
  if header ~= nil then
    for part in header:gmatch("[^;]+") do
      local name, value
      local eq = find(part, "=", 1, true)
      if eq == nil then
        name, value = strip(part), ""
      else
        name, value = strip(sub(part, 1, eq - 1)), strip(sub(part, eq + 1))
      end
      if name ~= "" then cookies[name] = value end
    end
  end
  return cookies
end

-- A chunked body has no Content-Length header: its length is what arrived,
-- unknown (nil) while it streams.
function request_fields.content_length(req)
  local header = req.headers["Content-Length"]
  if header == nil then
    if rawget(req, TICKET) ~= nil then return nil end
    return #req.body
  end
  return math_tointeger(tonumber(header)) or 0
end

-- The host's streamed body (its ticket), or the body read whole.
function request_fields.stream(req)
  return request_stream.new(rawget(req, TICKET), req.body, req.max_readline)
end

-- A body as one string: a streamed one is read whole (what is left of it).
local function whole_body(req)
  if rawget(req, TICKET) == nil then return req.body end
  return req.stream:read() or ""
end

function request_fields.content_type(req)
  return req.headers["Content-Type"]
end

local function content_type_is(req, expected)
  local content_type = req.content_type
  return content_type ~= nil and content_type:lower():find("^%s*" .. expected) ~= nil
end

-- A multipart body is parsed once, for both req.form and req.files; a
-- streamed one as it arrives, its spooled files closed when the request
-- ends (`close_uploads`).
local function multipart_fields(req)
  if not content_type_is(req, "multipart/form%-data") then return nil end
  local form, files
  local ticket = rawget(req, TICKET)
  if ticket ~= nil then
    local uploads = {}
    req._uploads = uploads
    form, files = multipart.parse_stream(req.content_type, req.stream, ticket, uploads)
  else
    form, files = multipart.parse(req.content_type, req.body)
  end
  rawset(req, "form", form)
  rawset(req, "files", files)
  return form, files
end

function request_fields.form(req)
  if content_type_is(req, "application/x%-www%-form%-urlencoded") then
    return parse_urlencoded(whole_body(req))
  end
  return (multipart_fields(req))
end

function request_fields.files(req)
  local _, files = multipart_fields(req)
  return files
end

function request_fields.json(req)
  if not content_type_is(req, "application/json") then return nil end
  local ok, value = pcall(core.json.decode, whole_body(req))
  if not ok then errors.abort(400, "Bad request") end
  return value
end

function request_fields.g(_)
  return {}
end

function request_fields.url_args(_)
  return {}
end

-- The request's id (spec section 21): the host's while it logs; else
-- made on first read from the client's X-Request-Id, or random.
function request_fields.request_id(req)
  return core.request_id(req.headers["X-Request-Id"])
end

function request_fields.client_addr(req)
  return { rawget(req, HOST), rawget(req, PORT) }
end

-- A slot left nil (a route without URL arguments) falls back on the
-- computed fields.
Request.__index = function(req, key)
  local slot = slots[key]
  if slot ~= nil then
    local value = rawget(req, slot)
    if value ~= nil then return value end
  end
  local field = request_fields[key]
  if field ~= nil then
    local value = field(req)
    rawset(req, key, value)
    return value
  end
  local default = defaults[key]
  if default ~= nil then return default end
  return Request[key]
end

Request.__newindex = function(req, key, value)
  rawset(req, slots[key] or key, value)
end

--- Registers a hook that runs after this request's route only, after the
--- app's after_request hooks; it may return a new response.
---@param f fun(req: microdot.Request, res: microdot.Response): any
---@return function f
function Request:after_request(f)
  check_self(self, Request, "req", "after_request", "a Request")
  local hooks = rawget(self, "_after_request")
  if hooks == nil then
    hooks = {}
    self._after_request = hooks
  end
  hooks[#hooks + 1] = f
  return f
end

--- Closes the temp files a streamed multipart body spooled to (the host
--- removes them).
---@param req microdot.Request
function M.close_uploads(req)
  local uploads = rawget(req, "_uploads")
  if uploads == nil then return end
  for i = 1, #uploads do pcall(uploads[i].close, uploads[i]) end
end

--- The request the host's arguments describe; `headers` becomes its header
--- table; `body` is a string or nil. A body that streams has no string but
--- a `ticket`, the host's handle on it.
---@return microdot.Request
function M.new_request(app, method, url, http_version, headers, body, host, port, scheme, ticket, request_id)
  -- In the order of `slots` (a nil keeps its slot: url_args, request_id).
  return setmetatable({
    app, method, url, http_version, setmetatable(headers, Headers), body or "",
    host, port, scheme or "http", ticket, false, nil, request_id, false,
  }, Request)
end

return M
