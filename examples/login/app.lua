-- A login with a form, a session cookie and "remember me" (microdot.session
-- and microdot.login), and an admin page behind HTTP Basic auth
-- (microdot.auth).
--   microdot-lua examples/login/app.lua     then open http://localhost:5000/
--   (users: ada / lovelace, alan / turing; admin: admin / secret)
-- Set SECRET_KEY in the environment for anything but a demo: the session
-- cookie is signed with it.
local microdot = require("microdot")
local Session = require("microdot.session").Session
local with_session = require("microdot.session").with_session
local Login = require("microdot.login").Login
local BasicAuth = require("microdot.auth").BasicAuth

local app = microdot.Microdot()
Session(app, { secret_key = os.getenv("SECRET_KEY") or "change-me: a demo key only" })

-- A real app keeps password hashes in a database; this demo keeps users here.
local users = {
  [1] = { id = 1, username = "ada", password = "lovelace", name = "Ada Lovelace" },
  [2] = { id = 2, username = "alan", password = "turing", name = "Alan Turing" },
}
local function find_user(username)
  for _, user in pairs(users) do
    if user.username == username then return user end
  end
end

local login = Login() -- unauthenticated visitors go to /login?next=<url>
login:user_loader(function(user_id) return users[user_id] end)

local function escape(s)
  return (tostring(s):gsub("[&<>\"']", {
    ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;",
  }))
end

local HTML = { ["Content-Type"] = "text/html; charset=UTF-8" }

local function page(title, body)
  return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title></head>"
    .. "<body><h1>%s</h1>%s</body></html>"):format(escape(title), escape(title), body)
end

local function login_form(req, message)
  local action = "/login"
  if req.args.next then action = action .. "?next=" .. microdot.urlencode(req.args.next) end
  return page("Log in", (message and ("<p class=\"error\">" .. escape(message) .. "</p>") or "")
    .. "<form method=\"post\" action=\"" .. escape(action) .. "\">"
    .. "<label>User <input name=\"username\" autocomplete=\"username\"></label> "
    .. "<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label> "
    .. "<label><input name=\"remember\" type=\"checkbox\"> Remember me</label> "
    .. "<button>Log in</button></form>")
end

app:get("/login", function(req)
  return login_form(req), HTML
end)

app:post("/login", function(req)
  local user = find_user(req.form.username)
  if user == nil or user.password ~= req.form.password then
    return login_form(req, "Wrong user name or password."), 401, HTML
  end
  -- Back to the page that asked for the login (`next`), or "/".
  return login:login_user(req, user, { remember = req.form.remember == "on" })
end)

app:post("/logout", function(req)
  login:logout_user(req)
  return microdot.redirect("/login")
end)

-- A page for logged-in users; the session also counts their visits.
app:get("/", login(with_session(function(req, session)
  session.visits = (session.visits or 0) + 1
  session:save()
  return page("Hello, " .. req.g.current_user.name,
    "<p>Visits in this session: " .. session.visits .. "</p>"
    .. "<p><a href=\"/account\">Account</a></p>"
    .. "<form method=\"post\" action=\"/logout\"><button>Log out</button></form>"), HTML
end)))

-- Changing the account needs a fresh login, not one restored by "remember me".
app:get("/account", login:fresh(function(req)
  return page("Account of " .. req.g.current_user.username, "<p><a href=\"/\">Home</a></p>"), HTML
end))

-- HTTP Basic auth, for tools rather than people.
local admin = BasicAuth({ realm = "Admin" })
admin:authenticate(function(req, username, password)
  if username == "admin" and password == (os.getenv("ADMIN_PASSWORD") or "secret") then
    return { name = username }
  end
end)

app:get("/admin/users", admin(function(req)
  local list = microdot.json.array()
  for _, user in pairs(users) do list[#list + 1] = user.username end
  table.sort(list)
  return list
end))

return app
