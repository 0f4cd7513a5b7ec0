-- Tests for app.lua:  microdot-lua --test examples/templates/test_app.lua
local microdot = require("microdot")
local app = require("app")
local client = microdot.test_client(app)

local function check(condition, message)
  if not condition then error("check failed: " .. message, 2) end
end

local res = client:get("/")
check(res.status_code == 200 and res.headers["Content-Type"] == "text/html; charset=UTF-8", "a page")
check(res.text:find("<h1>Guest book</h1>", 1, true), "the header is included")
check(res.text:find("<p>0 signed so far.</p>", 1, true), "nobody yet")

local form = {["Content-Type"] = "application/x-www-form-urlencoded", ["Sec-Fetch-Site"] = "same-origin"}
res = client:post("/sign", {body = "name=%3Cscript%3EAda", headers = form})
check(res.status_code == 302 and res.headers["Location"] == "/", "signed, redirected")
res = client:get("/")
check(res.text:find("<li>&lt;script&gt;Ada <small>", 1, true), "names are escaped")
check(res.text:find("<p>1 signed so far.</p>", 1, true), "one guest")

-- A form posted from another site is refused.
res = client:post("/sign", {body = "name=Mallory",
  headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Sec-Fetch-Site"] = "cross-site"}})
check(res.status_code == 403, "cross-site form refused")
check(not client:get("/").text:find("Mallory", 1, true), "Mallory did not sign")

res = client:get("/all")
check(res.headers["Transfer-Encoding"] == "chunked" and res.text:find("Everyone", 1, true), "streamed page")
print("examples/templates: all checks passed")
