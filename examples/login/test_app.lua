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
local FORM = { ["Content-Type"] = "application/x-www-form-urlencoded" }

local client = microdot.test_client(app)

-- Not logged in: to the login form, which keeps where to go back to.
local res = client:get("/account?tab=1")
check(res.status_code == 302, "a protected page redirects")
check(res.headers["Location"] == "/login?next=/account%3Ftab%3D1", "to the login page with next")
res = client:get("/login?next=/account%3Ftab%3D1")
check(res.status_code == 200 and res.text:find('action="/login?next=%2Faccount%3Ftab%3D1"', 1, true),
  "the form posts back with next")

-- A wrong password: the form again, 401, no session.
res = client:post("/login?next=/account", { headers = FORM, body = "username=ada&password=nope" })
check(res.status_code == 401 and res.text:find("Wrong user name or password", 1, true), "wrong password")
check(client.cookies.session == nil, "no session cookie after a failed login")

-- Logging in goes back to `next`, and the session keeps the user.
res = client:post("/login?next=/account", { headers = FORM, body = "username=ada&password=lovelace" })
check(res.status_code == 302 and res.headers["Location"] == "/account", "login goes back to next")
check(client.cookies.session ~= nil and client.cookies._remember == nil, "a session cookie, no remember cookie")
check(client:get("/account").text:find("Account of ada", 1, true), "a fresh login opens the account page")
check(client:get("/").text:find("Visits in this session: 1", 1, true), "first visit")
check(client:get("/").text:find("Visits in this session: 2", 1, true), "the session counts visits")

-- An off-site `next` is not followed.
res = client:post("/login?next=//evil.example/", { headers = FORM, body = "username=ada&password=lovelace" })
check(res.headers["Location"] == "/", "an off-site next goes home")

-- Logging out ends it.
res = client:post("/logout")
check(res.status_code == 302 and res.headers["Location"] == "/login", "logout redirects to the form")
check(client:get("/").status_code == 302, "logged out")

-- "Remember me" survives the session cookie, but is not fresh.
client:post("/login", { headers = FORM, body = "username=alan&password=turing&remember=on" })
check(client.cookies._remember ~= nil, "a remember cookie")
client.cookies.session = nil
res = client:get("/")
check(res.status_code == 200 and res.text:find("Hello, Alan Turing", 1, true), "remembered after the session ended")
check(client:get("/account").status_code == 302, "a remembered login is not fresh")
client:post("/logout")
check(client.cookies._remember == nil, "logout forgets the remember cookie")
check(client:get("/").status_code == 302, "logged out again")

-- Basic auth for the admin API.
res = client:get("/admin/users")
check(res.status_code == 401 and res.headers["WWW-Authenticate"] == 'Basic realm="Admin", charset="UTF-8"',
  "admin asks for credentials")
res = client:get("/admin/users", { headers = { Authorization = "Basic YWRtaW46c2VjcmV0" } })
check(res.status_code == 200 and res.text == '["ada","alan"]', "admin with credentials")

print("login example: " .. checks .. " checks passed")
