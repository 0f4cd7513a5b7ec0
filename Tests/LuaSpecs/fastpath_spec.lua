-- The request fast path: routes found through a hash of literal paths in
-- Microdot's first-match order, and a request built lazily.
local microdot = require("microdot")
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq

local function text(app, method, path)
  local res = microdot.test_client(app)[method](microdot.test_client(app), path)
  return res.status_code .. " " .. (res.text or "")
end

describe("Route order", function()
  it("a literal route added after a pattern that matches loses to it", function()
    local app = microdot.Microdot()
    app:get("/items/<name>", function(req, name) return "pattern " .. name end)
    app:get("/items/new", function(req) return "literal" end)
    eq(text(app, "get", "/items/new"), "200 pattern new", "first match")
  end)

  it("a literal route added before a pattern wins", function()
    local app = microdot.Microdot()
    app:get("/items/new", function(req) return "literal" end)
    app:get("/items/<name>", function(req, name) return "pattern " .. name end)
    eq(text(app, "get", "/items/new"), "200 literal", "literal")
    eq(text(app, "get", "/items/old"), "200 pattern old", "pattern")
  end)

  it("the first of two literal routes of a method answers; other methods are theirs", function()
    local app = microdot.Microdot()
    app:route("/x", { "GET", "POST" }, function(req) return "first " .. req.method end)
    app:get("/x", function(req) return "second" end)
    app:put("/x", function(req) return "put" end)
    eq(text(app, "get", "/x"), "200 first GET", "GET")
    eq(text(app, "post", "/x"), "200 first POST", "POST")
    eq(text(app, "put", "/x"), "200 put", "PUT")
    local res = microdot.test_client(app):delete("/x")
    eq({ res.status_code, res.headers["Allow"] }, { 405, "GET, POST, PUT, HEAD, OPTIONS" }, "405")
    eq(microdot.test_client(app):head("/x").status_code, 200, "HEAD takes the GET route")
  end)

  it("routes added, or a URL map replaced, after requests are found", function()
    local app = microdot.Microdot()
    app:get("/a", function(req) return "a" end)
    eq(text(app, "get", "/b"), "404 Not found", "before")
    app:get("/b", function(req) return "b" end)
    eq(text(app, "get", "/b"), "200 b", "added later")
    local other = microdot.Microdot()
    other:get("/c", function(req) return "c" end)
    app.url_map = other.url_map
    eq({ text(app, "get", "/c"), text(app, "get", "/a") }, { "200 c", "404 Not found" }, "replaced")
  end)

  it("matches the path in routing form, without the query string", function()
    local app = microdot.Microdot()
    app:get("/a b", function(req) return "space " .. tostring(req.query_string) end)
    app:get("/p/<x>", function(req, x) return x end)
    eq(text(app, "get", "/a%20b?q=1"), "200 space q=1", "decoded literal, query split off")
    eq(text(app, "get", "/p/a%2Fb"), "200 a/b", "an encoded slash stays in its segment")
  end)

  it("a mounted app's literal routes keep their prefix and sub-app", function()
    local app, sub = microdot.Microdot(), microdot.Microdot()
    sub:get("/x", function(req) return req.url_prefix .. " " .. tostring(req.subapp == sub) end)
    app:get("/x", function(req) return "'" .. req.url_prefix .. "' " .. tostring(req.subapp) end)
    app:mount(sub, "/sub")
    eq(text(app, "get", "/sub/x"), "200 /sub true", "mounted")
    eq(text(app, "get", "/x"), "200 '' false", "own route")
  end)
end)

describe("The lazy request", function()
  it("has Microdot's fields, computed when read", function()
    local app = microdot.Microdot()
    local seen
    local function handler(req, id)
      seen = {
        req.method, req.url, req.path, req.query_string, req.http_version, req.scheme,
        req.url_prefix, req.subapp, req.route == handler, req.url_args.id, id, req.app == app,
        req.headers["host"] ~= nil, req.args.q, req.body, type(req.client_addr),
      }
      return "ok"
    end
    app:get("/items/<int:id>", handler)
    microdot.test_client(app):get("/items/7?q=a%20b")
    eq(seen, {
      "GET", "/items/7?q=a%20b", "/items/7", "q=a%20b", "1.1", "http",
      "", false, true, 7, 7, true, true, "a b", "", "table",
    }, "fields")
  end)

  it("has no query string, and empty url_args, when there are none", function()
    local app = microdot.Microdot()
    local seen
    app:get("/", function(req)
      seen = { req.query_string, next(req.url_args), req.args:get("q") }
      return "ok"
    end)
    microdot.test_client(app):get("/")
    eq(seen, {}, "nothing")
  end)

  it("takes assignments to its fields and to new ones", function()
    local app = microdot.Microdot()
    app:before_request(function(req)
      req.method = "CHANGED"
      req.path = "/elsewhere"
      req.mine = 42
    end)
    app:get("/", function(req) return req.method .. " " .. req.path .. " " .. req.mine end)
    eq(text(app, "get", "/"), "200 CHANGED /elsewhere 42", "assigned")
  end)

  it("lets an extension add a field computed on first use", function()
    local fields = require("microdot.request").fields
    local calls = 0
    fields.spec_extra = function(req)
      calls = calls + 1
      return req.method .. "!"
    end
    local app = microdot.Microdot()
    app:get("/", function(req) return req.spec_extra .. req.spec_extra end)
    eq({ text(app, "get", "/"), calls }, { "200 GET!GET!", 1 }, "computed once")
    fields.spec_extra = nil
  end)
end)

runner.run()
