-- require("microdot.session"): Microdot 2.7's Session and with_session. The
-- session lives in a cookie holding a JWT (HS256) that Python Microdot's
-- Session reads and writes too (same secret key): the HMAC comes from the
-- host (swift-crypto), reading follows PyJWT's jwt.decode.
local core = require("microdot.core")
local datastructures = require("microdot.datastructures")
local helpers = require("microdot.helpers")
local response = require("microdot.response")
local check_self = require("microdot.errors").check_self

local type, pairs, next, error, tonumber, setmetatable, getmetatable, rawget, rawset, pcall =
  type, pairs, next, error, tonumber, setmetatable, getmetatable, rawget, rawset, pcall
local math_type, floor, ceil, huge = math.type, math.floor, math.ceil, math.huge
local concat, sort = table.concat, table.sort
local os_time = os.time
local json, json_null, json_array_mt = core.json, core.json.null, core.json_array_mt
local hmac_sha256, hmac_sha256_verify = core.hmac_sha256, core.hmac_sha256_verify
local b64url_encode, a2b_base64 = core.b64url_encode, core.a2b_base64

local M = {}

--- The longest Set-Cookie header `save()` writes (browsers keep 4096 bytes).
M.max_cookie_size = 4096

-- JWT -----------------------------------------------------------------------

-- b64url('{"alg":"HS256","typ":"JWT"}'), the header PyJWT writes.
local HEADER = b64url_encode('{"alg":"HS256","typ":"JWT"}')

local function is_object(v)
  return type(v) == "table" and getmetatable(v) ~= json_array_mt
end

-- A table as a JSON object whatever its keys (json.encode writes a table
-- with keys 1..n as an array), keys sorted so that equal sessions give equal
-- tokens. Raises on a value JSON cannot hold.
local function encode_object(t)
  local entries = {}
  for k, v in pairs(t) do
    local kind = type(k)
    if kind == "number" then
      k = json.encode(k)
    elseif kind ~= "string" then
      error("cannot encode a table with a " .. kind .. " key as JSON", 0)
    end
    entries[#entries + 1] = { k, v }
  end
  sort(entries, function(a, b) return a[1] < b[1] end)
  local parts = {}
  for i = 1, #entries do
    local entry = entries[i]
    parts[i] = json.encode(entry[1]) .. ":" .. json.encode(entry[2])
  end
  return "{" .. concat(parts, ",") .. "}"
end

-- The token of `payload` signed with `key`, or nil and why not.
local function encode_token(payload, key)
  if type(payload) ~= "table" then return nil, "a JWT payload must be a table" end
  if type(key) ~= "string" then return nil, "a JWT key must be a string" end
  local ok, text = pcall(encode_object, payload)
  if not ok then return nil, text end
  local signing_input = HEADER .. "." .. b64url_encode(text)
  return signing_input .. "." .. b64url_encode(hmac_sha256(key, signing_input))
end

--- A JWT (HS256) whose payload is `payload` as a JSON object.
---@param payload table
---@param key string
---@return string
function M.jwt_encode(payload, key)
  local token, message = encode_token(payload, key)
  if token == nil then error(message, 2) end
  return token
end

-- The bytes of a token segment as PyJWT reads them: base64url, at most two
-- `=` of padding (and then a length that is a multiple of 4), canonical
-- (what encoding the bytes gives back); else nil. (PyJWT 2.10 read segments
-- with Python's lenient base64; later versions, as here, refuse anything
-- else, which only a token signed with the secret could carry.)
local function segment_bytes(segment)
  local stripped = segment:match("^(.-)=?=?$")
  if #stripped < #segment and #segment % 4 ~= 0 then return nil end
  if #stripped % 4 == 1 or stripped:find("[^%w%-_]") then return nil end
  local rem = #stripped % 4
  local padded = rem > 0 and stripped .. ("="):rep(4 - rem) or stripped
  local bytes = a2b_base64((padded:gsub("[-_]", { ["-"] = "+", ["_"] = "/" })))
  if bytes == nil or b64url_encode(bytes) ~= stripped then return nil end
  return bytes
end

-- Python's int(v) for a claim, or nil where it raises.
local function python_int(v)
  local kind = type(v)
  if kind == "boolean" then return v and 1 or 0 end
  if kind == "number" then
    if math_type(v) == "integer" then return v end
    if v ~= v or v == huge or v == -huge then return nil end
    return v >= 0 and floor(v) or ceil(v)
  end
  if kind == "string" then
    local text = datastructures.strip(v)
    local sign, digits = text:match("^([+-]?)(%d[%d_]*)$")
    if digits == nil or digits:find("__", 1, true) or digits:sub(-1) == "_" then return nil end
    local n = tonumber((digits:gsub("_", "")))
    return sign == "-" and -n or n
  end
  return nil
end

-- Python's truth value of a decoded JSON value.
local function python_truthy(v)
  if v == nil or v == json_null or v == false or v == 0 or v == "" then return false end
  if type(v) == "table" then return next(v) ~= nil end
  return true
end

-- The header and payload bytes of a token whose structure, header and
-- signature PyJWT's jws.decode_complete accepts, or nil.
local function verified_payload(token, key)
  -- signing_input, crypto = rsplit(".", 1); header, payload = split(".", 1)
  local last = token:match("^.*()%.")
  if last == nil then return nil end
  local signing_input, crypto_segment = token:sub(1, last - 1), token:sub(last + 1)
  local first = signing_input:find(".", 1, true)
  if first == nil then return nil end
  local header_bytes = segment_bytes(signing_input:sub(1, first - 1))
  if header_bytes == nil then return nil end
  local ok, header = pcall(json.decode, header_bytes)
  if not ok or not is_object(header) then return nil end
  if header.b64 == false then return nil end -- a detached payload: never ours
  local payload_bytes = segment_bytes(signing_input:sub(first + 1))
  local signature = segment_bytes(crypto_segment)
  if payload_bytes == nil or signature == nil then return nil end
  local kid = header.kid
  if kid ~= nil and type(kid) ~= "string" then return nil end
  if header.crit ~= nil or header.alg ~= "HS256" then return nil end
  if not hmac_sha256_verify(key, signing_input, signature) then return nil end
  return payload_bytes
end

-- Whether a payload's registered claims pass PyJWT's checks with no
-- audience, issuer or leeway: exp > now >= nbf, iat.
local function claims_valid(payload)
  local now = os_time()
  if payload.iat ~= nil then
    local iat = python_int(payload.iat)
    if iat == nil or iat > now then return false end
  end
  if payload.nbf ~= nil then
    local nbf = python_int(payload.nbf)
    if nbf == nil or nbf > now then return false end
  end
  if payload.exp ~= nil then
    local exp = python_int(payload.exp)
    if exp == nil or exp <= now then return false end
  end
  if python_truthy(payload.aud) then return false end
  if payload.sub ~= nil and type(payload.sub) ~= "string" then return false end
  if payload.jti ~= nil and type(payload.jti) ~= "string" then return false end
  return true
end

--- The payload of a JWT as PyJWT 2.10's `jwt.decode(token, key,
--- algorithms=["HS256"])` accepts it, or nil when it raises.
---@param token string
---@param key string
---@return table? payload
function M.jwt_decode(token, key)
  if type(token) ~= "string" or type(key) ~= "string" then return nil end
  local payload_bytes = verified_payload(token, key)
  if payload_bytes == nil then return nil end
  local ok, payload = pcall(json.decode, payload_bytes)
  if not ok or not is_object(payload) or not claims_valid(payload) then return nil end
  return payload
end

-- Sessions --------------------------------------------------------------------

--- A session: a table of JSON-able values with `save`, `delete` and `get`
--- from its metatable. Data never shadows a method (a Python dict's keys
--- never collide with its methods): a value under a method's name (from a
--- cookie Python Microdot wrote, or `s[key] = v` with a key the user chose)
--- is kept beside the table, so `s.save` stays the method and the value is
--- `s:get("save")`; `pairs` gives it, and the cookie holds it.
---@class microdot.SessionDict: table
local SessionDict = {}

-- What the metatable of a session holds: `request`, and `aside`, the values
-- under method names.
local function aside_of(self)
  return getmetatable(self).aside
end

--- Writes the session cookie with the session's current contents (encoded
--- now) when the response goes out.
function SessionDict:save()
  check_self(self, SessionDict, "session", "save", "a session (the table with_session gives)")
  local req = getmetatable(self).request
  req.app._session:update(req, self, 3)
end

--- Removes the session cookie when the response goes out.
function SessionDict:delete()
  check_self(self, SessionDict, "session", "delete", "a session (the table with_session gives)")
  local req = getmetatable(self).request
  req.app._session:delete(req)
end

--- The value under `key` (any key, a method's name too), or `default` when
--- there is none: Python's `session.get(key, default)`.
---@param key any
---@param default? any
---@return any
function SessionDict:get(key, default)
  local value
  if SessionDict[key] ~= nil then
    value = aside_of(self)[key]
  else
    value = rawget(self, key)
  end
  if value == nil then return default end
  return value
end

-- Only reached for keys the table lacks: a method's name goes aside.
local function session_newindex(self, key, value)
  if SessionDict[key] ~= nil then
    aside_of(self)[key] = value
  else
    rawset(self, key, value)
  end
end

-- The table's own entries, then those kept aside.
local function session_pairs(self)
  local aside = aside_of(self)
  local in_aside = false
  return function(_, key)
    if not in_aside then
      local k, v = next(self, key)
      if k ~= nil then return k, v end
      in_aside = true
      key = nil
    end
    return next(aside, key)
  end, self, nil
end

local function new_session_dict(req, data)
  local aside = {}
  for name in pairs(SessionDict) do
    local value = rawget(data, name)
    if value ~= nil then
      aside[name] = value
      data[name] = nil
    end
  end
  return setmetatable(data, {
    __index = SessionDict,
    __newindex = session_newindex,
    __pairs = session_pairs,
    request = req,
    aside = aside,
    __name = "microdot.session",
  })
end

---@class microdot.session.Session
---@field secret_key string?
---@field cookie_options microdot.CookieOptions
local Session = {}
Session.__index = Session
Session.__name = "microdot.session.Session"

local cookie_option_types = {
  path = "string",
  domain = "string",
  expires = { "string", "number" },
  max_age = "number",
  secure = "boolean",
  http_only = "boolean",
  same_site = "string",
  partitioned = "boolean",
}

local session_option_types = { secret_key = "string", cookie_options = "table" }

local function copy_cookie_options(options, level)
  helpers.check_options("Session cookie_options", options, cookie_option_types, level + 1)
  local copy = {}
  for k, v in pairs(options) do copy[k] = v end
  return copy
end

--- Session handling, as Microdot's `Session`: `Session(app, {secret_key=,
--- cookie_options=})`; without an app, call `initialize` later.
---@param app? microdot.Microdot
---@param options? {secret_key?: string, cookie_options?: microdot.CookieOptions}
---@return microdot.session.Session
function Session.new(app, options)
  options = helpers.check_options("Session", options, session_option_types)
  local self = setmetatable({
    secret_key = options.secret_key,
    cookie_options = options.cookie_options and copy_cookie_options(options.cookie_options, 3) or {},
  }, Session)
  if app ~= nil then self:initialize(app, nil, 3) end
  return self
end

--- Attaches the session to `app` (`app._session`), filling in the cookie
--- options `path = "/"` and `http_only = true` where not given.
---@param app microdot.Microdot
---@param options? {secret_key?: string, cookie_options?: microdot.CookieOptions}
---@return microdot.session.Session self
function Session:initialize(app, options, level)
  check_self(self, Session, "app._session", "initialize", "a Session")
  level = level or 2
  if type(app) ~= "table" or type(app.url_map) ~= "table" then
    error("Session: initialize needs an app", level)
  end
  options = helpers.check_options("Session", options, session_option_types, level + 1)
  if options.secret_key ~= nil then self.secret_key = options.secret_key end
  if options.cookie_options ~= nil then
    self.cookie_options = copy_cookie_options(options.cookie_options, level + 1)
  end
  if self.cookie_options.path == nil then self.cookie_options.path = "/" end
  if self.cookie_options.http_only == nil then self.cookie_options.http_only = true end
  app._session = self
  return self
end

local function check_secret(self, level)
  local key = self.secret_key
  if key == nil or key == "" then error("The session secret key is not configured", level + 1) end
  return key
end

--- The session of `req`, made once per request from its `session` cookie
--- (empty when there is none or it does not decode); marks Vary `Cookie`.
---@param req microdot.Request
---@return microdot.SessionDict
function Session:get(req)
  check_self(self, Session, "app._session", "get", "a Session")
  check_secret(self, 2)
  local g = req.g
  local session = rawget(g, "_session")
  if session ~= nil then return session end
  helpers.vary(req, "Cookie")
  local cookie = req.cookies.session
  session = new_session_dict(req, cookie ~= nil and self:decode(cookie) or {})
  g._session = session
  return session
end

--- Writes `session` (encoded now) into this request's response as the
--- session cookie. Applications call `session:save()` instead.
---@param req microdot.Request
---@param session table
function Session:update(req, session, level)
  check_self(self, Session, "app._session", "update", "a Session")
  level = level or 2
  check_secret(self, level)
  local encoded, message = encode_token(session, self.secret_key)
  if encoded == nil then error(message, level) end
  local options = self.cookie_options
  local probe = response.Response.new()
  probe:set_cookie("session", encoded, options)
  local size = #probe.headers["Set-Cookie"][1]
  if size > M.max_cookie_size then
    error("the session cookie would be " .. size .. " bytes, more than the "
      .. M.max_cookie_size .. " a browser keeps", level)
  end
  req:after_request(function(_, res)
    res:set_cookie("session", encoded, options)
    return res
  end)
end

--- Removes the session cookie in this request's response. Applications
--- call `session:delete()` instead.
---@param req microdot.Request
function Session:delete(req)
  check_self(self, Session, "app._session", "delete", "a Session")
  local options = self.cookie_options
  req:after_request(function(_, res)
    res:delete_cookie("session", options)
    return res
  end)
end

--- The JWT (HS256) of `payload` (a table, always a JSON object), signed with
--- `secret_key` or the session's key.
---@param payload table
---@param secret_key? string
---@return string
function Session:encode(payload, secret_key)
  check_self(self, Session, "app._session", "encode", "a Session")
  local token, message = encode_token(payload, secret_key or check_secret(self, 2))
  if token == nil then error(message, 2) end
  return token
end

--- The payload of `session` (a JWT), or an empty table when it is not a
--- valid token for `secret_key` or the session's key.
---@param session string
---@param secret_key? string
---@return table
function Session:decode(session, secret_key)
  check_self(self, Session, "app._session", "decode", "a Session")
  return M.jwt_decode(session, secret_key or self.secret_key) or {}
end

M.Session = setmetatable(Session, {
  __call = function(_, app, options) return Session.new(app, options) end,
})
M.SessionDict = SessionDict

--- Wraps a handler so that it gets the session after the request:
--- `f(req, session, ...)`.
---@param f fun(req: microdot.Request, session: microdot.SessionDict, ...): any
---@return fun(req: microdot.Request, ...): any
function M.with_session(f)
  if not helpers.callable(f) then error("with_session expects a function", 2) end
  return helpers.wraps(function(req, ...)
    local session = req.app._session
    if session == nil then error("with_session: the app has no Session (call Session(app, {secret_key = ...}))", 2) end
    return f(req, session:get(req), ...)
  end, f)
end

return M
