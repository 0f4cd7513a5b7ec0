-- A method called with a dot instead of a colon (`res.set_cookie("a", "b")`)
-- is an error at the caller's line that says so, for every object scripts
-- get: Response, Request, MultiDict, microdot.shared and the extensions'.
-- The same methods called with a colon still work.
local microdot = require("microdot")
local Template = require("microdot.template").Template
local with_session = require("microdot.session").with_session
local with_sse = require("microdot.sse").with_sse
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq

local this_file = debug.getinfo(1, "S").short_src

-- The message of calling `object[method](arg)` (a dot: `arg` lands in self).
local function dot_call(object, method, arg)
  local line = debug.getinfo(1, "l").currentline + 1
  local ok, err = pcall(function() object[method](arg) end)
  assert(not ok, method .. ": no error")
  return tostring(err), this_file .. ":" .. line .. ": "
end

local function expect_dot(object, receiver, method, arg)
  local message, where = dot_call(object, method, arg or "x")
  local expected = where .. receiver .. "." .. method .. "(...) was called with a dot: did you mean "
    .. receiver .. ":" .. method .. "(...)?"
  eq(message:sub(1, #expected), expected, receiver .. "." .. method)
end

-- A request as the server makes it, captured from a before_request hook.
local captured
local app = microdot.Microdot()
app:before_request(function(req) captured = req end)
app:get("/", function() return "x" end)
microdot.test_client(app):get("/?a=1")

describe("a dot instead of a colon", function()
  it("Response, Request and MultiDict", function()
    local res = microdot.Response("x")
    expect_dot(res, "res", "set_cookie")
    expect_dot(res, "res", "delete_cookie")
    expect_dot(captured, "req", "after_request", function() end)
    expect_dot(captured.args, "req.args", "get")
    expect_dot(captured.args, "req.args", "getlist")
    res:set_cookie("a", "b")
    eq(res.headers["Set-Cookie"], {"a=b"}, "a colon works")
    eq(captured.args:get("a"), "1", "a colon works")
  end)

  it("a Response subclass's instances are Responses", function()
    local Sub = setmetatable({}, {__index = microdot.Response})
    Sub.__index = Sub
    local res = microdot.Response.new("x")
    setmetatable(res, Sub)
    res:set_cookie("a", "b")
    eq(res.headers["Set-Cookie"], {"a=b"}, "subclass")
  end)

  it("microdot.shared", function()
    for _, method in ipairs({"get", "set", "add", "replace", "incr", "delete", "keys"}) do
      expect_dot(microdot.shared, "microdot.shared", method)
    end
    eq(microdot.shared.capacity() > 0, true, "capacity reads no argument")
  end)

  it("the extensions' objects", function()
    local login = require("microdot.login").Login()
    for _, method in ipairs({"user_loader", "login_user", "logout_user", "get_current_user", "wrap", "fresh"}) do
      expect_dot(login, "login", method)
    end
    local basic = require("microdot.auth").BasicAuth()
    for _, method in ipairs({"wrap", "optional", "authenticate"}) do
      expect_dot(basic, "auth", method)
    end
    expect_dot(require("microdot.auth").TokenAuth(), "auth", "errorhandler")
    local cors = require("microdot.cors").CORS()
    expect_dot(cors, "cors", "initialize")
    expect_dot(cors, "cors", "get_cors_headers")
    local csrf = require("microdot.csrf").CSRF()
    for _, method in ipairs({"allowed", "initialize", "exempt", "protect"}) do
      expect_dot(csrf, "csrf", method)
    end
    local session = require("microdot.session").Session()
    for _, method in ipairs({"initialize", "get", "update", "delete", "encode", "decode"}) do
      expect_dot(session, "app._session", method)
    end
    local template = Template("hello.html")
    expect_dot(template, "template", "render")
    expect_dot(template, "template", "generate")
    eq(template:render({name = "x"}), "<p>Hi x</p>\n", "a colon works")
    expect_dot(app, "app", "static")
  end)

  it("a session's save and delete, and sse:send, in a request", function()
    local site = microdot.Microdot()
    require("microdot.session").Session(site, {secret_key = "k"})
    local seen = {}
    site:get("/session", with_session(function(req, s)
      seen.session = dot_call(s, "save")
      return "x"
    end))
    site:get("/sse", with_sse(function(req, sse)
      seen.sse = dot_call(sse, "send", "data")
    end))
    local client = microdot.test_client(site)
    eq(client:get("/session").status_code, 200, "session route")
    client:get("/sse")
    eq(seen.session:match("session%.save%(%.%.%.%) was called with a dot") ~= nil, true, seen.session)
    eq(seen.sse:match("sse%.send%(%.%.%.%) was called with a dot") ~= nil, true, seen.sse)
  end)
end)

runner.run()
