-- require("microdot.cors"): Cross-Origin Resource Sharing, the twin of
-- Microdot 2.7's microdot.cors. A CORS object answers preflight requests
-- (through the app's options_handler) and adds the Access-Control-*
-- headers to every response, errors included.
local core = require("microdot.core")
local datastructures = require("microdot.datastructures")
local helpers = require("microdot.helpers")
local check_self = require("microdot.errors").check_self

local type, pairs, ipairs, tostring, error, setmetatable =
  type, pairs, ipairs, tostring, error, setmetatable
local concat = table.concat

local M = {}

--- CORS headers for an app.
---@class microdot.cors.CORS
---@field allowed_origins "*"|string[]|nil
---@field allow_credentials boolean
---@field allowed_methods string[]?
---@field expose_headers string[]?
---@field allowed_headers string[]? lower-cased
---@field max_age number?
---@field default_options_handler (fun(req: microdot.Request): table)|false|nil
local CORS = {}
CORS.__index = CORS
CORS.__name = "microdot.cors.CORS"
M.CORS = CORS

local option_types = {
  allowed_origins = { "string[]", "string" },
  allow_credentials = "boolean",
  allowed_methods = "string[]",
  expose_headers = "string[]",
  allowed_headers = "string[]",
  max_age = "number",
  handle_cors = "boolean",
}

---@class microdot.cors.Options
---@field allowed_origins? "*"|string[] origins allowed to make cross-site requests
---@field allow_credentials? boolean send Access-Control-Allow-Credentials: true
---@field allowed_methods? string[] methods a preflight may ask for (default: any)
---@field expose_headers? string[] headers the browser may expose
---@field allowed_headers? string[] headers a preflight may ask for (default: any)
---@field max_age? number seconds a browser may cache a preflight answer
---@field handle_cors? boolean false installs nothing (default true)

--- A CORS object; with an app, installed on it (see `initialize`).
---@param app? microdot.Microdot
---@param options? microdot.cors.Options
---@return microdot.cors.CORS
function CORS.new(app, options)
  options = helpers.check_options("CORS", options, option_types)
  local origins = options.allowed_origins
  if type(origins) == "string" and origins ~= "*" then
    error("CORS: allowed_origins must be \"*\" or an array of origins", 2)
  end
  local allowed_headers
  if options.allowed_headers ~= nil then
    allowed_headers = {}
    for i, name in ipairs(options.allowed_headers) do allowed_headers[i] = name:lower() end
  end
  if origins == "*" and options.allow_credentials then
    -- Microdot's behaviour, kept: but it is rarely what an app means.
    core.log("warning", 'CORS: allowed_origins = "*" with allow_credentials = true echoes every '
      .. "Origin (even null) with Access-Control-Allow-Credentials: true, so any site can make "
      .. "requests with the user's cookies and read the answers; list the origins instead",
      helpers.script_location())
  end
  local self = setmetatable({
    allowed_origins = origins,
    allow_credentials = options.allow_credentials or false,
    allowed_methods = options.allowed_methods,
    expose_headers = options.expose_headers,
    allowed_headers = allowed_headers,
    max_age = options.max_age,
  }, CORS)
  if app ~= nil then self:initialize(app, { handle_cors = options.handle_cors }) end
  return self
end

setmetatable(CORS, {
  __call = function(_, ...) return CORS.new(...) end,
})

--- Installs the object on `app`: wraps its `options_handler` and adds one
--- hook as after_request and after_error_request. With `handle_cors =
--- false` nothing is installed (get_cors_headers still works).
---@param app microdot.Microdot
---@param options? { handle_cors?: boolean }
function CORS:initialize(app, options)
  check_self(self, CORS, "cors", "initialize", "a CORS")
  options = helpers.check_options("CORS:initialize", options, { handle_cors = "boolean" })
  if type(app) ~= "table" or type(app.after_request) ~= "function" then
    error("CORS:initialize expects a Microdot app", 2)
  end
  self.default_options_handler = app.options_handler
  if options.handle_cors == false then return end
  app.options_handler = function(req) return self:options_handler(req) end
  local function hook(req, res) self:after_request(req, res) end
  app:after_request(hook)
  app:after_error_request(hook)
end

--- The app's previous options handler's headers plus the CORS ones.
---@param req microdot.Request
---@return table<string, string>
function CORS:options_handler(req)
  local headers = {}
  local default = self.default_options_handler
  if default then
    for name, value in pairs(default(req) or {}) do headers[name] = value end
  end
  for name, value in pairs(self:get_cors_headers(req)) do headers[name] = value end
  return headers
end

local function contains(list, value)
  if list == nil then return false end
  for _, item in ipairs(list) do
    if item == value then return true end
  end
  return false
end

-- What a preflight (an OPTIONS request) also gets.
local function preflight_headers(self, req, headers)
  if self.max_age and self.max_age ~= 0 then
    headers["Access-Control-Max-Age"] = tostring(self.max_age)
  end
  local method = req.headers["Access-Control-Request-Method"]
  if method ~= nil and method ~= "" then
    method = method:upper()
    if self.allowed_methods == nil or contains(self.allowed_methods, method) then
      headers["Access-Control-Allow-Methods"] = method
    end
  end
  local requested = req.headers["Access-Control-Request-Headers"]
  if requested == nil or requested == "" then return end
  if self.allowed_headers == nil then
    headers["Access-Control-Allow-Headers"] = requested
    return
  end
  local allowed = {}
  for name in (requested .. ","):gmatch("([^,]*),") do
    name = datastructures.strip(name)
    if contains(self.allowed_headers, name:lower()) then allowed[#allowed + 1] = name end
  end
  headers["Access-Control-Allow-Headers"] = concat(allowed, ", ")
end

--- The CORS headers for `req` (a name -> value table). Marks `Origin` for
--- Vary whenever `allowed_origins` is set: the answer then depends on the
--- request's Origin, present or not, and a cache must not give one
--- origin's answer to another (Microdot marks it only when it echoes one).
---@param req microdot.Request
---@return table<string, string>
function CORS:get_cors_headers(req)
  check_self(self, CORS, "cors", "get_cors_headers", "a CORS")
  local headers = {}
  local origin = req.headers["Origin"]
  if origin == "" then origin = nil end
  local origins = self.allowed_origins
  if origins ~= nil then helpers.vary(req, "Origin") end
  if origins == "*" then
    headers["Access-Control-Allow-Origin"] = origin or "*"
  elseif origin ~= nil and type(origins) == "table" and contains(origins, origin) then
    headers["Access-Control-Allow-Origin"] = origin
  end
  if self.allow_credentials and headers["Access-Control-Allow-Origin"] ~= nil then
    headers["Access-Control-Allow-Credentials"] = "true"
  end
  if self.expose_headers ~= nil and #self.expose_headers > 0 then
    headers["Access-Control-Expose-Headers"] = concat(self.expose_headers, ", ")
  end
  if req.method == "OPTIONS" then preflight_headers(self, req, headers) end
  return headers
end

--- The hook: sets the CORS headers on `res`, replacing same-named ones.
---@param req microdot.Request
---@param res microdot.Response
function CORS:after_request(req, res)
  for name, value in pairs(self:get_cors_headers(req)) do res.headers[name] = value end
end

return M
