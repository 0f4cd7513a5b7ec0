-- microdot.csrf in process (the oracle suite compares with Python Microdot).
local microdot = require("microdot")
local CORS = require("microdot.cors").CORS
local CSRF = require("microdot.csrf").CSRF
local with_sse = require("microdot.sse").with_sse
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq

local function make(csrf_options, cors_options)
  local app = microdot.Microdot()
  local cors = cors_options and CORS(app, cors_options) or nil
  csrf_options = csrf_options or {}
  csrf_options.cors = cors
  local csrf = CSRF(app, csrf_options)
  app:route("/submit", {"GET", "POST", "DELETE"}, function() return "done" end)
  app:post("/exempt", csrf:exempt(function() return "exempt" end))
  app:get("/protected", csrf:protect(function() return "protected" end))
  -- Wrapper order does not matter: exempt inside or outside another wrapper.
  app:post("/wrapped-inner", with_sse(csrf:exempt(function(req, sse) sse:send("x") end)))
  app:post("/wrapped-outer", csrf:exempt(with_sse(function(req, sse) sse:send("x") end)))
  return microdot.test_client(app)
end

local function status(client, method, path, headers)
  return client:request(method, path, {headers = headers}).status_code
end

describe("CSRF", function()
  it("lets safe methods and header-less requests through", function()
    local client = make()
    eq(status(client, "GET", "/submit", {["Sec-Fetch-Site"] = "cross-site"}), 200)
    eq(status(client, "POST", "/submit"), 200)
  end)
  it("judges Sec-Fetch-Site", function()
    local client = make()
    local res = client:post("/submit", {headers = {["Sec-Fetch-Site"] = "same-origin"}})
    eq(res.status_code, 200)
    eq(res.headers["Vary"], "Sec-Fetch-Site")
    eq(status(client, "POST", "/submit", {["Sec-Fetch-Site"] = "none"}), 200)
    eq(status(client, "POST", "/submit", {["Sec-Fetch-Site"] = "same-site"}), 403)
    res = client:delete("/submit", {headers = {["Sec-Fetch-Site"] = "cross-site"}})
    eq(res.status_code, 403)
    eq(res.text, "Forbidden")
    eq(res.headers["Vary"], nil)
    eq(status(make({allow_subdomains = true}), "POST", "/submit", {["Sec-Fetch-Site"] = "same-site"}), 200)
  end)
  it("exempts and protects, whatever the wrapping order", function()
    local client = make()
    local cross = {["Sec-Fetch-Site"] = "cross-site"}
    eq(status(client, "POST", "/exempt", cross), 200)
    eq(status(client, "GET", "/protected", cross), 403)
    eq(status(client, "GET", "/protected", {["Sec-Fetch-Site"] = "same-origin"}), 200)
    eq(status(client, "POST", "/wrapped-inner", cross), 200)
    eq(status(client, "POST", "/wrapped-outer", cross), 200)
  end)
  it("protects nothing but protected routes without protect_all", function()
    local client = make({protect_all = false})
    eq(status(client, "POST", "/submit", {["Sec-Fetch-Site"] = "cross-site"}), 200)
    eq(status(client, "GET", "/protected", {["Sec-Fetch-Site"] = "cross-site"}), 403)
  end)
  it("checks Origin against the CORS origins", function()
    local client = make({}, {allowed_origins = {"https://a.com"}})
    eq(status(client, "POST", "/submit", {Origin = "https://a.com"}), 200)
    eq(status(client, "POST", "/submit", {Origin = "https://b.com"}), 403)
    eq(status(client, "POST", "/submit", {Origin = "https://x.a.com"}), 403)
    -- A cross-site Sec-Fetch-Site with a trusted Origin passes, as Microdot 2.7.
    eq(status(client, "POST", "/submit", {Origin = "https://a.com", ["Sec-Fetch-Site"] = "cross-site"}), 200)
    eq(status(client, "POST", "/submit", {["Sec-Fetch-Site"] = "cross-site"}), 403)
  end)
  it("trusts subdomains with allow_subdomains, same scheme only", function()
    local client = make({allow_subdomains = true}, {allowed_origins = {"https://a.com"}})
    eq(status(client, "POST", "/submit", {Origin = "https://x.a.com"}), 200)
    eq(status(client, "POST", "/submit", {Origin = "https://x.y.a.com"}), 200)
    eq(status(client, "POST", "/submit", {Origin = "http://x.a.com"}), 403)
    eq(status(client, "POST", "/submit", {Origin = "https://xa.com"}), 403)
    eq(status(client, "POST", "/submit", {Origin = "null"}), 403)
  end)
  it("refuses any Origin when CORS allows '*' or has no list", function()
    eq(status(make({}, {allowed_origins = "*"}), "POST", "/submit", {Origin = "https://a.com"}), 403)
    eq(status(make({}, {}), "POST", "/submit", {Origin = "https://a.com"}), 403)
  end)
  it("checks its options", function()
    local ok, err = pcall(CSRF, nil, {protect = true})
    assert(not ok and tostring(err):find("unknown option 'protect'", 1, true), err)
    ok, err = pcall(CSRF, nil, {protect_all = "yes"})
    assert(not ok and tostring(err):find("protect_all", 1, true), err)
    local csrf = CSRF()
    ok, err = pcall(csrf.exempt, csrf, 42)
    assert(not ok and tostring(err):find("expects a function", 1, true), err)
  end)
end)

runner.run()
