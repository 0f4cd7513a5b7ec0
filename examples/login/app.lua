-- A login with a form, a session cookie and "remember me" (microdot.session
-- and microdot.login), pages from templates (microdot.template, escaped by
-- default), forms protected from cross-site posts (microdot.csrf), and an
-- admin API behind HTTP Basic auth (microdot.auth).
--   microdot-lua examples/login/app.lua     then open http://127.0.0.1:5000/
--   (users: ada / lovelace, alan / turing; admin: admin / secret)
-- Set SECRET_KEY in the environment for anything but a demo: the session
-- cookie is signed with it.
local microdot = require("microdot")
local Session = require("microdot.session").Session
local with_session = require("microdot.session").with_session
local Login = require("microdot.login").Login
local BasicAuth = require("microdot.auth").BasicAuth
local CSRF = require("microdot.csrf").CSRF
local Template = require("microdot.template").Template

local app = microdot.Microdot()
Session(app, { secret_key = os.getenv("SECRET_KEY") or "change-me: a demo key only" })
-- Every POST (the login and logout forms) must come from this site: a
-- browser says where a form was sent from (Sec-Fetch-Site, Origin), and a
-- form another site posts here answers 403 before any handler runs.
-- Browsers send Sec-Fetch-Site only to HTTPS sites and localhost: served
-- over plain HTTP under another name, pass CSRF a CORS object listing the
-- site's own origin (README, CSRF protection).
CSRF(app)

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

local HTML = { ["Content-Type"] = "text/html; charset=UTF-8" }

-- A page from templates/<name>; <%= %> in them escapes what it writes.
local function page(name, vars, status)
  return Template(name):render(vars), status or 200, HTML
end

local function login_page(req, vars, status)
  vars.action = "/login"
  if req.args.next then vars.action = vars.action .. "?next=" .. microdot.urlencode(req.args.next) end
  return page("login.html", vars, status)
end

app:get("/login", function(req)
  return login_page(req, {})
end)

app:post("/login", function(req)
  local form = req.form or {} -- nil when the body is not a form
  local user = find_user(form.username)
  if user == nil or user.password ~= form.password then
    return login_page(req, { message = "Wrong user name or password.", username = form.username }, 401)
  end
  -- Back to the page that asked for the login (`next`), or "/".
  return login:login_user(req, user, { remember = form.remember == "on" })
end)

app:post("/logout", function(req)
  login:logout_user(req)
  return microdot.redirect("/login")
end)

-- A page for logged-in users; the session also counts their visits.
app:get("/", login(with_session(function(req, session)
  session.visits = (session.visits or 0) + 1
  session:save()
  return page("home.html", { user = req.g.current_user, visits = session.visits })
end)))

-- Changing the account needs a fresh login, not one restored by "remember me".
app:get("/account", login:fresh(function(req)
  return page("account.html", { user = req.g.current_user })
end))

-- What CSRF's abort(403) shows a person whose browser posted a form from
-- another site.
app:errorhandler(403, function(req)
  return page("forbidden.html", {}, 403)
end)

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
