-- The same routes as session_app.py (sessions, auth, login), for the
-- Microdot comparison.
local microdot = require("microdot")
local session = require("microdot.session")
local auth = require("microdot.auth")
local Login = require("microdot.login").Login

local SECRET = "top-secret"

local app = microdot.Microdot()
session.Session(app, { secret_key = SECRET })
local with_session = session.with_session

app:after_request(function(req, res)
  -- What the extensions marked for Vary (see session_app.py).
  local marked = req.g._vary
  if marked ~= nil then
    local names = {}
    for name in pairs(marked) do names[#names + 1] = name end
    table.sort(names)
    res.headers["X-Vary-Marks"] = table.concat(names, ",")
  end
  res.headers["X-After"] = "1"
  return res
end)

app:errorhandler(401, function(req) return "401 error", 401 end)

-- Sessions

app:get("/session", with_session(function(req, s)
  local copy = {}
  for k, v in pairs(s) do copy[k] = v end
  return copy, { ["Content-Type"] = "application/json" }
end))

app:post("/session", with_session(function(req, s)
  for k, v in pairs(req.json) do s[k] = v end
  s:save()
  return "saved"
end))

app:get("/session/delete", with_session(function(req, s)
  s:delete()
  return "deleted"
end))

app:get("/session/twice", with_session(function(req, s)
  s.n = 1
  s:save()
  s.n = 2
  s:save()
  return "twice"
end))

app:get("/session/fail", with_session(function(req, s)
  s.n = 1
  s:save()
  error("after save")
end))

app:get("/session/resave", with_session(function(req, s)
  s.touched = true
  s:save()
  return "resaved " .. type(s.save) .. " " .. type(s.delete) .. " " .. type(s.get)
end))

app:get("/session/get", with_session(function(req, s)
  return microdot.json.encode({ value = s:get(req.args.key, microdot.json.null) })
end))

app:get("/session/id/<int:id>", with_session(function(req, s, id)
  return "id " .. id
end))

app:get("/plain", function(req) return "plain" end)

local child = session.Session(nil, {
  secret_key = SECRET, cookie_options = { path = "/child", http_only = false },
})

app:get("/child/save", function(req)
  child:update(req, { child = true })
  return "saved"
end)

app:get("/child/delete", function(req)
  child:delete(req)
  return "deleted"
end)

local no_secret = session.Session()

app:get("/nosecret", function(req)
  no_secret:get(req)
  return "unreachable"
end)

-- Auth

local USERS = { susan = "hello", david = "bye", ["é"] = "pä:ss" }
local TOKENS = { ["good-token"] = "susan", ["other-token"] = "david" }

local function check_basic(req, username, password)
  if USERS[username] == password then return { name = username } end
end

local basic = auth.BasicAuth()
basic:authenticate(check_basic)

local custom_basic = auth.BasicAuth({ realm = "Admin area", charset = "latin1", scheme = "Custom", error_status = 403 })
custom_basic:authenticate(check_basic)

local callback_basic = auth.BasicAuth()
callback_basic:authenticate(check_basic)
callback_basic.error_callback = function(req) return "refused", 418, { ["X-Refused"] = "yes" } end

app:get("/basic", basic(function(req) return "hi " .. req.g.current_user.name end))
app:get("/basic/custom", custom_basic(function(req) return "custom " .. req.g.current_user.name end))
app:get("/basic/callback", callback_basic(function(req) return "callback " .. req.g.current_user.name end))
local echo_basic = auth.BasicAuth()
echo_basic:authenticate(function(req, username, password) return { name = username .. "|" .. password } end)
app:get("/basic/echo", echo_basic(function(req) return "hi " .. req.g.current_user.name end))

app:get("/basic/optional", basic:optional(function(req)
  local user = req.g.current_user
  return user and "hi " .. user.name or "anonymous"
end))

local function check_token(req, value) return TOKENS[value] end

local token = auth.TokenAuth()
token:authenticate(check_token)
local header_token = auth.TokenAuth({ header = "X-API-Key" })
header_token:authenticate(check_token)
local custom_token = auth.TokenAuth({ scheme = "Token", error_status = 403 })
custom_token:authenticate(check_token)
custom_token:errorhandler(function(req) return "no token", 401, { ["X-Reason"] = "custom" } end)

app:get("/token", token(function(req) return "token " .. req.g.current_user end))
app:get("/token/header", header_token(function(req) return "header " .. req.g.current_user end))
app:get("/token/custom", custom_token(function(req) return "custom " .. req.g.current_user end))
local zero_token = auth.TokenAuth()
zero_token:authenticate(function(req, value) return 0 end) -- falsy in Python, true in Lua
app:get("/token/zero", zero_token(function(req) return "user " .. req.g.current_user end))

local empty_basic = auth.BasicAuth()
empty_basic:authenticate(function(req, username, password) return "" end) -- falsy in Python, true in Lua
app:get("/basic/empty", empty_basic(function(req) return "user [" .. req.g.current_user .. "]" end))

app:get("/token/optional", token:optional(function(req)
  return "token " .. (req.g.current_user or "none")
end))

-- Login

local LOGIN_USERS = { [1] = "susan", [123] = "user123" }
local login = Login()

login:user_loader(function(user_id)
  local name = LOGIN_USERS[user_id]
  return name and { id = user_id, name = name } or nil
end)

app:get("/", login(function(req) return req.g.current_user.name end))

app:get("/fresh", login:fresh(function(req) return "fresh " .. req.g.current_user.name end))

local zero_login = Login()
zero_login:user_loader(function(user_id) return 0 end) -- falsy in Python, true in Lua
app:get("/zero", zero_login(function(req) return "user " .. tostring(req.g.current_user) end))

app:post("/login", function(req)
  local remember = req.args.remember
  if remember == "yes" then
    remember = true
  elseif remember then
    remember = tonumber(remember)
  else
    remember = false
  end
  local user_id = tonumber(req.args:get("user", "123"))
  return login:login_user(req, { id = user_id, name = "x" },
    { remember = remember, redirect_url = req.args:get("to", "/") })
end)

app:post("/logout", function(req)
  login:logout_user(req)
  return "ok"
end)

return app
