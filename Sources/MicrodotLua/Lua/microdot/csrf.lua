-- require("microdot.csrf"): protection against cross-site request forgery,
-- the twin of Microdot 2.7's microdot.csrf. A before_request hook refuses
-- (403) a state-changing request a browser sent from another site, judged
-- by Sec-Fetch-Site, or by Origin against a CORS object's origins.
local errors = require("microdot.errors")
local helpers = require("microdot.helpers")
local check_self = errors.check_self

local type, ipairs, error, setmetatable, getmetatable = type, ipairs, error, setmetatable, getmetatable

local M = {}

--- CSRF protection for an app's routes.
---@class microdot.csrf.CSRF
---@field cors microdot.cors.CORS?
---@field protect_all boolean
---@field allow_subdomains boolean
---@field exempt_routes table<function, true>
---@field protected_routes table<function, true>
local CSRF = {}
CSRF.__index = CSRF
CSRF.__name = "microdot.csrf.CSRF"
M.CSRF = CSRF

--- Methods that change nothing, unchecked unless a route is protected.
CSRF.SAFE_METHODS = { GET = true, HEAD = true, OPTIONS = true }

---@class microdot.csrf.Options
---@field cors? microdot.cors.CORS whose allowed_origins are trusted
---@field protect_all? boolean check every unsafe method (default true)
---@field allow_subdomains? boolean trust same-site requests and subdomains of trusted origins

--- A CSRF object; with an app, installed on it (see `initialize`).
---@param app? microdot.Microdot
---@param options? microdot.csrf.Options
---@return microdot.csrf.CSRF
function CSRF.new(app, options)
  options = helpers.check_options("CSRF", options,
    { cors = "table", protect_all = "boolean", allow_subdomains = "boolean" })
  local self = setmetatable({
    cors = nil,
    protect_all = options.protect_all ~= false,
    allow_subdomains = options.allow_subdomains or false,
    exempt_routes = setmetatable({}, { __mode = "k" }),
    protected_routes = setmetatable({}, { __mode = "k" }),
  }, CSRF)
  if app ~= nil then self:initialize(app, options.cors) end
  return self
end

setmetatable(CSRF, {
  __call = function(_, ...) return CSRF.new(...) end,
})

local function split_origin(origin)
  return origin:match("^(.-)://(.*)$")
end

-- Whether `origin` is one of the CORS object's origins (or, with
-- allow_subdomains, a subdomain of one with the same scheme).
local function trusted_origin(self, origin)
  local origins = self.cors and self.cors.allowed_origins
  if type(origins) ~= "table" then return false end
  if not self.allow_subdomains then
    for _, allowed in ipairs(origins) do
      if origin == allowed then return true end
    end
    return false
  end
  local scheme, host = split_origin(origin)
  if scheme == nil then return false end
  for _, allowed in ipairs(origins) do
    if origin == allowed then return true end
    local allowed_scheme, allowed_host = split_origin(allowed)
    if allowed_scheme == scheme and host:sub(-#allowed_host - 1) == "." .. allowed_host then
      return true
    end
  end
  return false
end

--- Whether `req` may go on (marks Sec-Fetch-Site for Vary when that
--- header decided it).
---@param req microdot.Request
---@return boolean
function CSRF:allowed(req)
  check_self(self, CSRF, "csrf", "allowed", "a CSRF")
  local site = req.headers["Sec-Fetch-Site"]
  if site == "" then site = nil end
  local origin = req.headers["Origin"]
  if origin == "" then origin = nil end
  if site ~= nil then
    if site == "same-origin" or site == "none" or (site == "same-site" and self.allow_subdomains) then
      helpers.vary(req, "Sec-Fetch-Site")
      return true
    end
  end
  if origin ~= nil and self.cors ~= nil and self.cors.allowed_origins ~= "*" then
    if trusted_origin(self, origin) then return true end
  end
  return site == nil and origin == nil
end

--- Installs the before_request hook on `app`; `cors` (or `{cors = }`) is
--- the CORS object whose origins are trusted.
---@param app microdot.Microdot
---@param cors? microdot.cors.CORS|{ cors?: microdot.cors.CORS }
function CSRF:initialize(app, cors)
  check_self(self, CSRF, "csrf", "initialize", "a CSRF")
  if type(app) ~= "table" or type(app.before_request) ~= "function" then
    error("CSRF:initialize expects a Microdot app", 2)
  end
  if cors ~= nil and getmetatable(cors) == nil then
    cors = helpers.check_options("CSRF:initialize", cors, { cors = "table" }).cors
  end
  if cors ~= nil and (type(cors) ~= "table" or getmetatable(cors) == nil) then
    error("CSRF: cors must be a CORS object", 2)
  end
  self.cors = cors
  local safe = CSRF.SAFE_METHODS
  app:before_request(function(req)
    local route = req.route
    local checked = helpers.in_chain(route, self.protected_routes)
      or (self.protect_all and not safe[req.method] and not helpers.in_chain(route, self.exempt_routes))
    if checked and not self:allowed(req) then errors.abort(403, "Forbidden") end
  end)
end

--- Exempts a route handler from the check (any wrapping order).
---@generic F
---@param f F
---@return F f
function CSRF:exempt(f)
  check_self(self, CSRF, "csrf", "exempt", "a CSRF")
  if not helpers.callable(f) then error("CSRF:exempt expects a function", 2) end
  self.exempt_routes[f] = true
  return f
end

--- Checks a route handler whatever its method, GET included.
---@generic F
---@param f F
---@return F f
function CSRF:protect(f)
  check_self(self, CSRF, "csrf", "protect", "a CSRF")
  if not helpers.callable(f) then error("CSRF:protect expects a function", 2) end
  self.protected_routes[f] = true
  return f
end

return M
