-- Tests for app.lua with the in-process test client (it keeps cookies as a
-- browser does):
--   microdot-lua --test examples/login/test_app.lua
local microdot = require("microdot")
local app = require("app")

local checks = 0
local function check(condition, message)
  checks = checks + 1
  if not condition then error("check failed: " .. message, 2) end
end

-- What a browser sends with a form: where it was posted from. The app's
-- own pages are same-origin; a page of another site is cross-site (or
-- same-site from another port of the same host).
local function form_from(site, origin)
  return { ["Content-Type"] = "application/x-www-form-urlencoded", ["Sec-Fetch-Site"] = site, Origin = origin }
end
local FORM = form_from("same-origin", "http://127.0.0.1:5000")
local FORGED = form_from("cross-site", "https://evil.example")

local client = microdot.test_client(app)

-- Not logged in: to the login form, which keeps where to go back to.
local res = client:get("/account?tab=1")
check(res.status_code == 302, "a protected page redirects")
check(res.headers["Location"] == "/login?next=/account%3Ftab%3D1", "to the login page with next")
res = client:get("/login?next=/account%3Ftab%3D1")
check(res.status_code == 200 and res.headers["Content-Type"] == "text/html; charset=UTF-8", "an HTML page")
check(res.text:find("<title>Log in</title>", 1, true), "the login page, from templates")
check(res.text:find('action="/login?next=%2Faccount%3Ftab%3D1"', 1, true), "the form posts back with next")

-- A wrong password: the form again, 401, no session; what was typed comes
-- back escaped.
res = client:post("/login?next=/account", { headers = FORM, body = "username=%3Cb%3Eada%22&password=nope" })
check(res.status_code == 401 and res.text:find("Wrong user name or password", 1, true), "wrong password")
check(res.text:find('value="&lt;b&gt;ada&quot;"', 1, true), "the user name is escaped")
check(not res.text:find("<b>ada", 1, true), "nothing of it raw")
check(client.cookies.session == nil, "no session cookie after a failed login")

-- A login form posted from another site is refused before it is read.
res = client:post("/login", { headers = FORGED, body = "username=ada&password=lovelace" })
check(res.status_code == 403 and res.text:find("<h1>Forbidden</h1>", 1, true), "a forged login is refused")
check(client.cookies.session == nil, "no session from a forged login")
res = client:post("/login", { headers = form_from("same-site", "http://127.0.0.1:8000"),
  body = "username=ada&password=lovelace" })
check(res.status_code == 403, "another port of the same host is another origin: refused")

-- Logging in goes back to `next`, and the session keeps the user.
res = client:post("/login?next=/account", { headers = FORM, body = "username=ada&password=lovelace" })
check(res.status_code == 302 and res.headers["Location"] == "/account", "login goes back to next")
check(client.cookies.session ~= nil and client.cookies._remember == nil, "a session cookie, no remember cookie")
check(client:get("/account").text:find("Account of ada", 1, true), "a fresh login opens the account page")
res = client:get("/")
check(res.text:find("<h1>Hello, Ada Lovelace</h1>", 1, true), "the greeting")
check(res.text:find("Visits in this session: 1", 1, true), "first visit")
check(res.text:find('<form method="post" action="/logout">', 1, true), "a logout form")
check(client:get("/").text:find("Visits in this session: 2", 1, true), "the session counts visits")

-- A logout posted from another site is refused: still logged in.
res = client:post("/logout", { headers = FORGED })
check(res.status_code == 403 and res.text:find("sent from another site", 1, true), "a forged logout is refused")
check(res.headers["Set-Cookie"] == nil, "the refusal touches no cookie")
check(client:get("/").text:find("Visits in this session: 3", 1, true), "still logged in after the forged logout")

-- An off-site `next` is not followed.
res = client:post("/login?next=//evil.example/", { headers = FORM, body = "username=ada&password=lovelace" })
check(res.headers["Location"] == "/", "an off-site next goes home")

-- Logging out (the page's own form) ends it.
res = client:post("/logout", { headers = FORM })
check(res.status_code == 302 and res.headers["Location"] == "/login", "logout redirects to the form")
check(client:get("/").status_code == 302, "logged out")

-- "Remember me" survives the session cookie, but is not fresh.
client:post("/login", { headers = FORM, body = "username=alan&password=turing&remember=on" })
check(client.cookies._remember ~= nil, "a remember cookie")
client.cookies.session = nil
res = client:get("/")
check(res.status_code == 200 and res.text:find("Hello, Alan Turing", 1, true), "remembered after the session ended")
check(client:get("/account").status_code == 302, "a remembered login is not fresh")
client:post("/logout", { headers = FORM })
check(client.cookies._remember == nil, "logout forgets the remember cookie")
check(client:get("/").status_code == 302, "logged out again")

-- A client that is no browser sends neither header: CSRF lets it through
-- (Microdot's rule), so scripts can log in.
res = client:post("/login", { headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
  body = "username=ada&password=lovelace" })
check(res.status_code == 302, "a non-browser client logs in")
client:post("/logout")

-- Basic auth for the admin API.
res = client:get("/admin/users")
check(res.status_code == 401 and res.headers["WWW-Authenticate"] == 'Basic realm="Admin", charset="UTF-8"',
  "admin asks for credentials")
res = client:get("/admin/users", { headers = { Authorization = "Basic YWRtaW46c2VjcmV0" } })
check(res.status_code == 200 and res.text == '["ada","alan"]', "admin with credentials")

print("login example: " .. checks .. " checks passed")
