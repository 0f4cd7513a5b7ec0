-- require("microdot.login"): Microdot 2.7's Login. The logged-in user's id
-- lives in the session (microdot.session, which must be set up), and a
-- "remember me" login in a `_remember` cookie holding a JWT.
local core = require("microdot.core")
local helpers = require("microdot.helpers")
local response = require("microdot.response")
local check_self = require("microdot.errors").check_self

local type, error, pairs, rawget, setmetatable = type, error, pairs, rawget, setmetatable
local math_type, floor, ceil = math.type, math.floor, math.ceil
local os_time = os.time
local json_null = core.json.null
local redirect = response.redirect
local uri_reference = helpers.uri_reference

local M = {}

local DAY = 24 * 60 * 60

--- Microdot's `urlencode`, with `%` encoded first (so a `+` reads back as
--- `+`): `%`, `+`, space, `?`, `#`, `&`, `=`.
---@param s string
---@return string
function M.urlencode(s)
  return (s:gsub("%%", "%%25"):gsub("%+", "%%2B"):gsub(" ", "+"):gsub("%?", "%%3F")
    :gsub("#", "%%23"):gsub("&", "%%26"):gsub("=", "%%3D"))
end
local urlencode = M.urlencode

-- A value as Lua sees it, with JSON's null as nil.
local function value(v)
  if v == json_null then return nil end
  return v
end

---@class microdot.login.Login
---@field login_url string
---@field user_loader_callback? fun(user_id: any): any
local Login = {}
Login.__index = Login
Login.__name = "microdot.login.Login"

local login_options = { login_url = "string" }

--- `Login({login_url = "/login"})`: user logins kept in the session.
---@param options? {login_url?: string}
---@return microdot.login.Login
function Login.new(options)
  options = helpers.check_options("Login", options, login_options)
  return setmetatable({ login_url = options.login_url or "/login" }, Login)
end

--- Sets the function that gives the user object of a user id (nil when
--- the id is not valid any more).
---@param f fun(user_id: any): any
---@return function f
function Login:user_loader(f)
  check_self(self, Login, "login", "user_loader", "a Login")
  if not helpers.callable(f) then error("user_loader expects a function, got " .. type(f), 2) end
  self.user_loader_callback = f
  return f
end

local function session_of(req)
  local session = req.app._session
  if session == nil then
    error("Login needs a Session: call Session(app, {secret_key = ...}) first", 0)
  end
  return session
end

function Login:_get_session(req)
  return session_of(req):get(req)
end

function Login:_update_remember_cookie(req, days, user_id)
  local session = session_of(req)
  local payload = session:encode({
    user_id = user_id == nil and json_null or user_id,
    days = days,
    exp = os_time() + days * DAY,
  })
  local options = {}
  for k, v in pairs(session.cookie_options) do options[k] = v end
  options.expires = nil
  options.max_age = days * DAY
  req:after_request(function(_, res)
    res:set_cookie("_remember", payload, options)
    return res
  end)
end

-- The days a `_remember` payload asks for: its `days`, else Microdot's 30.
local function remembered_days(payload)
  local days = value(payload.days)
  if math_type(days) == "integer" and days > 0 then return days end
  return 30
end

function Login:_get_user_id_from_session(req)
  local session = self:_get_session(req)
  local user_id = rawget(session, "_user_id")
  if user_id ~= nil then return value(user_id) end
  local cookie = req.cookies._remember
  if cookie ~= nil then
    local payload = session_of(req):decode(cookie)
    user_id = value(payload.user_id)
    if user_id then
      self:_update_remember_cookie(req, remembered_days(payload), user_id)
      session._user_id = user_id
      session._fresh = false
      session:save()
      return user_id
    end
  end
  return nil
end

function Login:_redirect_to_login(req)
  return "", 302, { Location = uri_reference(self.login_url .. "?next=" .. urlencode(req.url)) }
end

-- Whether `url` is a path on this site: it starts with `/`, and not with
-- `//` or `/\` (a browser reads both as another host), and holds no control
-- characters.
local function is_local(url)
  return type(url) == "string" and url:sub(1, 1) == "/" and url:sub(2, 2) ~= "/"
    and url:sub(2, 2) ~= "\\" and not url:find("%c")
end

local login_user_options = { remember = { "boolean", "number" }, redirect_url = "string" }

--- Logs `user` in (its `id` goes into the session, which is saved) and
--- returns a redirect to the `next` query argument when it is a local
--- path, else to `redirect_url` (default "/"), percent-encoded as a
--- URI-reference (RFC 9110 section 10.2.2; Microdot writes it raw). `remember` (true for 30 days,
--- or a number of days) also sets a `_remember` cookie.
---@param req microdot.Request
---@param user {id: any}
---@param options? {remember?: boolean|integer, redirect_url?: string}
---@return microdot.Response
function Login:login_user(req, user, options)
  check_self(self, Login, "login", "login_user", "a Login")
  options = helpers.check_options("login_user", options, login_user_options)
  if type(user) ~= "table" or user.id == nil then
    error("login_user: the user must be a table with an id", 2)
  end
  local session = self:_get_session(req)
  session._user_id = user.id
  session._fresh = true
  session:save()
  req.g.current_user = user
  local remember = options.remember
  if remember then
    local days = 30
    if remember ~= true then days = remember >= 0 and floor(remember) or ceil(remember) end
    if days ~= 0 then self:_update_remember_cookie(req, days, user.id) end
  end
  local redirect_url = options.redirect_url or "/"
  local next_url = req.args:get("next", redirect_url)
  if not is_local(next_url) then next_url = redirect_url end
  -- `next` arrives decoded (`/a b`); a Location must be a URI-reference.
  return redirect(uri_reference(next_url))
end

--- Logs the user out: removes the login from the session (saved) and
--- expires a `_remember` cookie the request had.
---@param req microdot.Request
function Login:logout_user(req)
  check_self(self, Login, "login", "logout_user", "a Login")
  local session = self:_get_session(req)
  session._user_id = nil
  session._fresh = nil
  session:save()
  req.g.current_user = nil
  req.g._login_checked = true
  if req.cookies._remember ~= nil then self:_update_remember_cookie(req, 0) end
end

--- The logged-in user (found once per request), or nil.
---@param req microdot.Request
---@return any
function Login:get_current_user(req)
  check_self(self, Login, "login", "get_current_user", "a Login")
  local g = req.g
  if g.current_user ~= nil or rawget(g, "_login_checked") then return g.current_user end
  local user_id = self:_get_user_id_from_session(req)
  local user
  if user_id then
    local loader = self.user_loader_callback
    if loader == nil then error("Login has no user loader: call login:user_loader(fn)", 0) end
    user = loader(user_id)
  end
  g.current_user = user
  g._login_checked = true
  return user
end

--- Wraps `f` so that it runs only for a logged-in user; others are
--- redirected to `login_url?next=<url>`. `login(f)` is the same.
---@param f fun(req: microdot.Request, ...): any
---@return fun(req: microdot.Request, ...): any
function Login:wrap(f)
  check_self(self, Login, "login", "wrap", "a Login")
  if not helpers.callable(f) then error("a login wrapper expects a function, got " .. type(f), 2) end
  return helpers.wraps(function(req, ...)
    if not self:get_current_user(req) then return self:_redirect_to_login(req) end
    return f(req, ...)
  end, f)
end
Login.__call = Login.wrap

--- As `login(f)`, and the login must be fresh (made with `login_user` in
--- this session, not restored from `_remember`).
---@param f fun(req: microdot.Request, ...): any
---@return fun(req: microdot.Request, ...): any
function Login:fresh(f)
  check_self(self, Login, "login", "fresh", "a Login")
  if not helpers.callable(f) then error("fresh expects a function, got " .. type(f), 2) end
  local base = self:wrap(f)
  return helpers.wraps(function(req, ...)
    if value(self:_get_session(req)._fresh) then return base(req, ...) end
    return self:_redirect_to_login(req)
  end, f)
end

M.Login = setmetatable(Login, {
  __call = function(_, options) return Login.new(options) end,
})

return M
