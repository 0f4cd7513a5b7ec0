-- require("microdot.auth"): Microdot 2.7's BaseAuth, BasicAuth and
-- TokenAuth. An auth object wraps a handler (`auth(f)`, Python's
-- `@auth`): the handler runs when the request carries credentials that the
-- `authenticate` callback accepts; else the error callback answers.
local core = require("microdot.core")
local datastructures = require("microdot.datastructures")
local errors = require("microdot.errors")
local helpers = require("microdot.helpers")
local check_self = errors.check_self

local type, error, select, setmetatable = type, error, select, setmetatable
local unpack = table.unpack
local utf8_len = utf8.len
local a2b_base64 = core.a2b_base64

local M = {}

local function check_function(f, what, level)
  if not helpers.callable(f) then error(what .. " expects a function, got " .. type(f), level + 1) end
end

-- Python's str.strip() for ASCII text (its whitespace includes \x1c-\x1f),
-- linear in the (client-sent) text.
local function strip(s)
  return datastructures.strip(s, datastructures.python_space_bytes)
end

--- What BasicAuth and TokenAuth share: wrapping handlers, the authenticate
--- and error callbacks.
---@class microdot.auth.BaseAuth
---@field auth_callback? fun(req: microdot.Request, ...): any
---@field error_callback fun(req: microdot.Request): any
local BaseAuth = {}
BaseAuth.__index = BaseAuth
BaseAuth.__name = "microdot.auth.BaseAuth"

local function authenticate(self, req, ...)
  local callback = self.auth_callback
  if callback == nil then
    error("no authentication callback: call " .. self.__name:match("[^.]+$") .. ":authenticate(fn)", 0)
  end
  return callback(req, ...)
end

local function pack(...)
  return select("#", ...), { ... }
end

--- Wraps `f` so that it runs only for an authenticated request, with
--- `req.g.current_user` set to what `authenticate` returned; otherwise the
--- error callback answers. `auth(f)` is the same.
---@param f fun(req: microdot.Request, ...): any
---@return fun(req: microdot.Request, ...): any
function BaseAuth:wrap(f)
  check_self(self, BaseAuth, "auth", "wrap", "a BasicAuth or TokenAuth")
  check_function(f, "an auth wrapper", 2)
  return helpers.wraps(function(req, ...)
    local count, credentials = pack(self:_get_auth(req))
    if count == 0 or credentials[1] == nil then return self.error_callback(req) end
    local user = authenticate(self, req, unpack(credentials, 1, count))
    req.g.current_user = user
    if not user then return self.error_callback(req) end
    return f(req, ...)
  end, f)
end
BaseAuth.__call = BaseAuth.wrap

--- Wraps `f` so that it always runs: `req.g.current_user` is what
--- `authenticate` returned, or nil without credentials.
---@param f fun(req: microdot.Request, ...): any
---@return fun(req: microdot.Request, ...): any
function BaseAuth:optional(f)
  check_self(self, BaseAuth, "auth", "optional", "a BasicAuth or TokenAuth")
  check_function(f, "optional", 2)
  return helpers.wraps(function(req, ...)
    local count, credentials = pack(self:_get_auth(req))
    if count == 0 or credentials[1] == nil then
      req.g.current_user = nil
    else
      req.g.current_user = authenticate(self, req, unpack(credentials, 1, count))
    end
    return f(req, ...)
  end, f)
end

--- Sets the callback that checks credentials: it gets the request and the
--- credentials and returns the user, or nil/false to refuse.
---@param f function
---@return function f
function BaseAuth:authenticate(f)
  check_self(self, BaseAuth, "auth", "authenticate", "a BasicAuth or TokenAuth")
  check_function(f, "authenticate", 2)
  self.auth_callback = f
  return f
end

--- The credentials of `req` (nothing when it has none); each auth class
--- has its own.
---@param req microdot.Request
---@diagnostic disable-next-line: unused-local
function BaseAuth:_get_auth(req) end

local function class(base, name)
  local cls = setmetatable({}, { __index = base })
  cls.__index = cls
  cls.__call = base.__call
  cls.__name = name
  return cls
end

-- BasicAuth -------------------------------------------------------------------

--- HTTP Basic authentication: `authenticate(fn(req, username, password))`.
---@class microdot.auth.BasicAuth: microdot.auth.BaseAuth
---@field realm string
---@field charset string
---@field scheme string
---@field error_status integer
local BasicAuth = class(BaseAuth, "microdot.auth.BasicAuth")

local basic_options = { realm = "string", charset = "string", scheme = "string", error_status = "number" }

--- `BasicAuth({realm = "Please login", charset = "UTF-8", scheme = "Basic",
--- error_status = 401})`.
---@param options? {realm?: string, charset?: string, scheme?: string, error_status?: integer}
---@return microdot.auth.BasicAuth
function BasicAuth.new(options)
  options = helpers.check_options("BasicAuth", options, basic_options)
  if options.scheme ~= nil and not options.scheme:find("^[%w!#%$%%&'%*%+%-%.%^_`|~]+$") then
    error("BasicAuth: scheme must be a token (RFC 9110 section 5.6.2), got " .. string.format("%q", options.scheme), 2)
  end
  local self = setmetatable({
    realm = options.realm or "Please login",
    charset = options.charset or "UTF-8",
    scheme = options.scheme or "Basic",
    error_status = options.error_status or 401,
  }, BasicAuth)
  self.error_callback = function(req) return self:authentication_error(req) end
  return self
end

--- The username and password of an `Authorization: Basic ...` header, read
--- as Microdot does (binascii.a2b_base64, UTF-8, split at the first `:`).
---@param req microdot.Request
---@return string? username
---@return string? password
function BasicAuth:_get_auth(req)
  local header = req.headers["Authorization"]
  if header == nil or header:sub(1, 6) ~= "Basic " then return end
  local encoded = header:sub(7)
  -- Python's a2b_base64 refuses a str with non-ASCII characters.
  if encoded:find("[\128-\255]") then return end
  local decoded = a2b_base64(encoded)
  if decoded == nil or not utf8_len(decoded) then return end
  local username, password = decoded:match("^(.-):(.*)$")
  if username == nil then return end
  return username, password
end

-- A quoted-string (RFC 9110 section 5.6.4): `"` and `\` escaped.
local function quoted(s)
  return '"' .. s:gsub('[\\"]', "\\%0") .. '"'
end

--- The default error answer: `error_status`, an empty body and a
--- `WWW-Authenticate` challenge (realm and charset as quoted-strings).
---@param req microdot.Request
---@diagnostic disable-next-line: unused-local
function BasicAuth:authentication_error(req)
  return "", self.error_status, {
    ["WWW-Authenticate"] = self.scheme .. " realm=" .. quoted(self.realm) .. ", charset=" .. quoted(self.charset),
  }
end

-- TokenAuth -------------------------------------------------------------------

--- Token authentication: `authenticate(fn(req, token))`.
---@class microdot.auth.TokenAuth: microdot.auth.BaseAuth
---@field header string
---@field scheme string lowercased
---@field error_status integer
local TokenAuth = class(BaseAuth, "microdot.auth.TokenAuth")

local token_options = { header = "string", scheme = "string", error_status = "number" }

--- `TokenAuth({header = "Authorization", scheme = "Bearer", error_status = 401})`.
---@param options? {header?: string, scheme?: string, error_status?: integer}
---@return microdot.auth.TokenAuth
function TokenAuth.new(options)
  options = helpers.check_options("TokenAuth", options, token_options)
  local self = setmetatable({
    header = options.header or "Authorization",
    scheme = (options.scheme or "Bearer"):lower(),
    error_status = options.error_status or 401,
  }, TokenAuth)
  self.error_callback = function(req) return self:authentication_error(req) end
  return self
end

--- The token: from `Authorization: <scheme> <token>` (scheme compared
--- case-insensitively, token trimmed), or another header's whole value.
---@param req microdot.Request
---@return string? token
function TokenAuth:_get_auth(req)
  local value = req.headers[self.header]
  if value == nil or value == "" then return end
  if self.header ~= "Authorization" then return value end
  local scheme, token = value:match("^(.-) (.*)$")
  if scheme == nil or scheme:lower() ~= self.scheme then return end
  return strip(token)
end

--- Sets the error callback (an ordinary route answer) in place of
--- `abort(error_status)`.
---@param f fun(req: microdot.Request): any
---@return function f
function TokenAuth:errorhandler(f)
  check_self(self, BaseAuth, "auth", "errorhandler", "a BasicAuth or TokenAuth")
  check_function(f, "errorhandler", 2)
  self.error_callback = f
  return f
end

--- The default error: `abort(error_status)`, answered by the app's error
--- handler for that status.
---@param req microdot.Request
---@diagnostic disable-next-line: unused-local
function TokenAuth:authentication_error(req)
  errors.abort(self.error_status)
end

local function callable_class(cls)
  return setmetatable(cls, {
    __index = getmetatable(cls).__index,
    __call = function(_, options) return cls.new(options) end,
  })
end

M.BaseAuth = BaseAuth
M.BasicAuth = callable_class(BasicAuth)
M.TokenAuth = callable_class(TokenAuth)

return M
