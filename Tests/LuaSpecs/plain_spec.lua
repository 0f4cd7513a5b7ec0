-- A handler's plain string or table return skips building a Response when
-- nothing can see it; wherever something can, it is a Response as before.
local microdot = require("microdot")
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq
local Response = microdot.Response

describe("Plain returns", function()
  it("after_request hooks see a Response", function()
    local app = microdot.Microdot()
    local seen
    app:get("/", function(req) return "text" end)
    app:after_request(function(req, res)
      seen = {microdot.is_response(res), res.body, res.status_code}
    end)
    local res = microdot.test_client(app):get("/")
    eq(seen, {true, "text", 200}, "what the hook saw")
    eq({res.status_code, res.text, res.headers["Content-Type"]}, {200, "text", "text/plain; charset=UTF-8"}, "response")
  end)

  it("a request's own after_request hook sees a Response", function()
    local app = microdot.Microdot()
    local seen
    app:get("/", function(req)
      req:after_request(function(_, res) seen = res.body end)
      return {a = 1}
    end)
    local res = microdot.test_client(app):get("/")
    eq(seen, '{"a":1}', "the JSON body the hook saw")
    eq(res.json, {a = 1}, "response")
  end)

  it("a mounted app's hooks see a Response", function()
    local app, sub = microdot.Microdot(), microdot.Microdot()
    sub:get("/x", function(req) return "x" end)
    sub:after_request(function(req, res) return res.body .. "!" end)
    app:mount(sub, "/sub", {local_hooks = true})
    eq(microdot.test_client(app):get("/sub/x").text, "x!", "local hook")
  end)

  it("the default content type is read at each response", function()
    local app = microdot.Microdot()
    app:get("/", function(req) return "<p>hi</p>" end)
    local client = microdot.test_client(app)
    local saved = Response.default_content_type
    Response.default_content_type = "text/html"
    local html = client:get("/").headers["Content-Type"]
    Response.default_content_type = "text/csv; charset=latin1"
    local csv = client:get("/").headers["Content-Type"]
    Response.default_content_type = saved
    eq({html, csv}, {"text/html; charset=UTF-8", "text/csv; charset=latin1"}, "Content-Type")
    eq(client:get("/").headers["Content-Type"], "text/plain; charset=UTF-8", "restored")
  end)

  it("a default content type with a line break is refused", function()
    local app = microdot.Microdot()
    app:get("/", function(req) return "hi" end)
    local saved = Response.default_content_type
    Response.default_content_type = "text/plain\r\nX-Injected: 1"
    local res = microdot.test_client(app):get("/")
    Response.default_content_type = saved
    eq({res.status_code, res.headers["X-Injected"]}, {500, nil}, "status and header")
  end)

  it("tables with a metatable of their own are still JSON", function()
    local app = microdot.Microdot()
    app:get("/", function(req) return setmetatable({a = 1}, {}) end)
    local res = microdot.test_client(app):get("/")
    eq({res.status_code, res.json}, {200, {a = 1}}, "response")
  end)

  it("a JSON encoding error is a 500 through the app's error handling", function()
    local app = microdot.Microdot()
    local handled
    app:get("/", function(req) return {f = print} end)
    app:errorhandler(500, function(req) handled = true; return "handled", 500 end)
    local res = microdot.test_client(app):get("/")
    eq({res.status_code, res.text, handled}, {500, "handled", true}, "response")
  end)

  it("integers and floats encode exactly", function()
    local app = microdot.Microdot()
    app:get("/", function(req) return {-5, 0, 42, math.maxinteger, math.mininteger, 1.5, {a = -1}} end)
    eq(microdot.test_client(app):get("/").text,
      '[-5,0,42,9223372036854775807,-9223372036854775808,1.5,{"a":-1}]', "JSON")
  end)

  it("headers given in any case are one header each", function()
    local app = microdot.Microdot()
    app:get("/", function(req) return "x", {["content-type"] = "text/csv", ["X-A"] = "1", ["x-a"] = "1"} end)
    local res = microdot.test_client(app):get("/")
    eq(res.headers["Content-Type"], "text/csv", "no default Content-Type next to the app's")
    eq(res.headers["X-A"], "1", "X-A once")
  end)

  it("statuses a plain response may not have take the Response path", function()
    local app = microdot.Microdot()
    app:get("/204", function(req) return "ignored", 204 end)
    app:get("/304", function(req) return "ignored", 304 end)
    app:get("/float", function(req) return "x", 201.5 end)
    app:get("/big", function(req) return "x", 1000 end)
    app:get("/low", function(req) return "x", 150 end)
    local client = microdot.test_client(app)
    local res = client:get("/204")
    eq({res.status_code, res.body, res.headers["Content-Length"]}, {204, "", nil}, "204")
    res = client:get("/304")
    eq({res.status_code, res.body}, {304, ""}, "304")
    eq(client:get("/float").status_code, 500, "a fractional status is an error")
    eq(client:get("/big").status_code, 500, "a status past 999 is an error")
    eq(client:get("/low").status_code, 500, "a 1xx status is interim, never the response (RFC 9110 15.2)")
  end)

  it("a plain response's status reaches hooks and dispatch_request", function()
    local app = microdot.Microdot()
    local captured, seen
    app:before_request(function(req) captured = req end)
    app:get("/", function(req) return {id = 7}, 201 end)
    local client = microdot.test_client(app)
    local res = client:get("/")
    eq({res.status_code, res.json}, {201, {id = 7}}, "plain")
    local made = app:dispatch_request(captured)
    eq({made.status_code, made.body, made.headers["Content-Type"]},
      {201, '{"id":7}', "application/json; charset=UTF-8"}, "dispatch_request")
    app:after_request(function(req, r) seen = r.status_code end)
    eq(client:get("/").status_code, 201, "with a hook")
    eq(seen, 201, "what the hook saw")
  end)

  it("dispatch_request still gives a Response", function()
    local app = microdot.Microdot()
    local captured
    app:before_request(function(req) captured = req end)
    app:get("/", function(req) return "text" end)
    microdot.test_client(app):get("/")
    local res = app:dispatch_request(captured)
    eq({microdot.is_response(res), res.status_code, res.body, res.headers["Content-Type"]},
      {true, 200, "text", "text/plain; charset=UTF-8"}, "response")
  end)
end)

runner.run()
