-- Tests for app.lua:  microdot-lua --test examples/cors/test_app.lua
local microdot = require("microdot")
local app = require("app")
local client = microdot.test_client(app)
local FRONT_END = "http://localhost:3000"

local function check(condition, message)
  if not condition then error("check failed: " .. message, 2) end
end

-- The browser's preflight for a JSON POST.
local res = client:options("/todos", {headers = {Origin = FRONT_END,
  ["Access-Control-Request-Method"] = "POST", ["Access-Control-Request-Headers"] = "content-type"}})
check(res.status_code == 200, "preflight answered")
check(res.headers["Access-Control-Allow-Origin"] == FRONT_END, "preflight allows the front end")
check(res.headers["Access-Control-Allow-Methods"] == "POST", "preflight allows POST")
check(res.headers["Access-Control-Allow-Headers"] == "content-type", "preflight allows the header")
check(res.headers["Access-Control-Max-Age"] == "600", "preflight can be cached")

-- The request itself, from the front end (a browser sends Sec-Fetch-Site).
res = client:post("/todos", {json = {title = "write docs"},
  headers = {Origin = FRONT_END, ["Sec-Fetch-Site"] = "same-site"}})
check(res.status_code == 201, "the front end can post: " .. res.status_code)
check(res.headers["Access-Control-Allow-Credentials"] == "true", "credentials allowed")
check(res.headers["Vary"] == "Origin", "the answer varies with Origin")

res = client:get("/todos", {headers = {Origin = FRONT_END}})
check(res.json[1].title == "write docs", "listed")
check(res.headers["X-Total"] == "1" and res.headers["Access-Control-Expose-Headers"] == "X-Total", "X-Total exposed")

-- A page on another site: no Access-Control-Allow-Origin (the answer still
-- varies with Origin, for caches), and its POST is refused.
res = client:post("/todos", {json = {title = "forged"},
  headers = {Origin = "https://evil.example", ["Sec-Fetch-Site"] = "cross-site"}})
check(res.status_code == 403, "cross-site POST refused")
check(res.headers["Access-Control-Allow-Origin"] == nil, "no CORS for another origin")
check(res.headers["Vary"] == "Origin", "the refusal varies with Origin too")
check(#client:get("/todos").json == 1, "nothing was added")

-- Exempt routes and non-browser clients pass.
check(client:post("/webhook", {headers = {["Sec-Fetch-Site"] = "cross-site"}}).status_code == 200, "webhook exempt")
check(client:post("/todos", {json = {title = "from curl"}}).status_code == 201, "a client without browser headers")
print("examples/cors: all checks passed")
