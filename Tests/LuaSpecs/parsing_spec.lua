-- Parsing request input: every parser is linear in its input (each case
-- feeds one a large adversarial input under a generous CPU-time bound: a
-- super-linear parser takes minutes or hours on these, a linear one
-- milliseconds), and request data never shadows a method of the container
-- it is stored in.
local microdot = require("microdot")
local datastructures = require("microdot.datastructures")
local multipart = require("microdot.multipart")
local request = require("microdot.request")
local router = require("microdot.router")
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq
local rep = string.rep

local MB = 1024 * 1024
-- A bound, not a benchmark: CPU seconds one parse of about 1 MB may take.
local BOUND = 2

local function bounded(what, fn)
  local start = os.clock()
  local result = fn()
  local spent = os.clock() - start
  if spent > BOUND then
    error(string.format("%s took %.2f s of CPU (bound %d s): not linear", what, spent, BOUND), 2)
  end
  return result
end

local app = microdot.Microdot()
local function new_request(url, headers, body)
  return request.new_request(app, "GET", url, "1.1", headers or {}, body or "", "127.0.0.1", 1234)
end

describe("Request parsers are linear", function()
  it("cookies: runs of spaces, parts without '=', many parts", function()
    local spaces = new_request("/", { Cookie = "a" .. rep(" ", MB) .. "b" })
    eq(bounded("a cookie of spaces", function() return spaces.cookies end), { ["a" .. rep(" ", MB) .. "b"] = "" },
      "a part without '=' is a name")
    local padded = new_request("/", { Cookie = "k" .. rep(" ", MB) .. "=" .. rep(" ", MB) .. "v" .. rep(" ", MB) })
    eq(bounded("spaces around '='", function() return padded.cookies end), { k = "v" }, "stripped")
    local many = new_request("/", { Cookie = rep("a=1; ", MB // 5) .. "last=2" })
    eq(bounded("many cookies", function() return many.cookies end).last, "2", "the last one")
  end)

  it("query strings and urlencoded forms", function()
    local pairs_ = new_request("/?" .. rep("k=v&", MB // 4) .. "z=%41+b")
    local args = bounded("many pairs", function() return pairs_.args end)
    eq({ #args:getlist("k"), args.z }, { MB // 4, "A b" }, "every pair")
    local percents = new_request("/?" .. rep("%", MB) .. "=" .. rep("%4", MB))
    bounded("lone percent signs", function() return percents.args end)
    local separators = new_request("/?" .. rep("&=", MB // 2))
    bounded("empty pairs", function() return separators.args end)
    local form = request.new_request(app, "POST", "/", "1.1",
      { ["Content-Type"] = "application/x-www-form-urlencoded" }, rep("a=%20+&", MB // 7) .. "b=1", "127.0.0.1", 1)
    eq(bounded("an urlencoded form", function() return form.form end).b, "1", "the form")
  end)

  it("percent-decoding and the routing form of a path", function()
    local encoded = rep("%2F%25%41", MB // 9)
    eq(bounded("routing_path", function() return router.routing_path(encoded) end), rep("%2F%25A", MB // 9),
      "only %2F and %25 stay encoded")
    eq(bounded("percent_decode", function() return datastructures.percent_decode(encoded) end), rep("/%A", MB // 9),
      "decoded")
    local req = new_request("/" .. rep("%", MB))
    eq(bounded("a path of percent signs", function() return req.path end), "/" .. rep("%", MB), "kept")
  end)

  it("multipart: long part header lines, unclosed quotes, many parts", function()
    local boundary = "XyZ"
    local function body_of(parts)
      return "--" .. boundary .. "\r\n" .. table.concat(parts, "\r\n--" .. boundary .. "\r\n")
        .. "\r\n--" .. boundary .. "--\r\n"
    end
    local spaces = body_of({ 'Content-Disposition: form-data; name="f"' .. rep(" ", MB) .. "\r\n"
      .. "Content-Type:" .. rep(" ", MB) .. "text/plain" .. rep(" ", MB) .. "\r\n\r\nvalue" })
    local form = bounded("spaces in part headers", function()
      return multipart.parse("multipart/form-data; boundary=" .. boundary, spaces)
    end)
    eq(form.f, "value", "the field")
    local quotes = body_of({ "Content-Disposition: form-data; name=x" .. rep('; name="', MB // 8) .. "\r\n\r\nv" })
    eq(bounded("unclosed quotes", function()
      return multipart.parse("multipart/form-data; boundary=" .. boundary, quotes)
    end).x, "v", "the first name wins")
    local parts = {}
    for i = 1, MB // 64 do parts[i] = 'Content-Disposition: form-data; name="n"\r\n\r\n' .. i end
    local many = bounded("many parts", function()
      return multipart.parse("multipart/form-data; boundary=" .. boundary, body_of(parts))
    end)
    eq(#many:getlist("n"), MB // 64, "every part")
    local params = bounded("header_params", function()
      return datastructures.header_params(rep(";", MB) .. rep(" a = 1 ;", MB // 8) .. ' b="x;y"; c="')
    end)
    eq({ params.a, params.b, params.c }, { "1", "x;y", "" }, "stripped, a quoted ';', an unclosed quote")
  end)

  it("a boundary longer than RFC 2046's 70 bytes is a 400", function()
    local ok, err = pcall(multipart.parse, "multipart/form-data; boundary=" .. rep("b", 71), "--" .. rep("b", 71))
    eq({ ok, type(err) == "table" and err.status_code }, { false, 400 }, "refused")
  end)

  it("JSON: deep nesting, long arrays, long strings", function()
    local deep = new_request("/", { ["Content-Type"] = "application/json" }, rep("[", MB))
    local ok, err = pcall(function()
      return bounded("deep nesting", function() return deep.json end)
    end)
    eq({ ok, type(err) == "table" and err.status_code }, { false, 400 }, "too deep is a 400")
    local long = new_request("/", { ["Content-Type"] = "application/json" }, "[" .. rep("1,", MB // 2) .. "1]")
    eq(#bounded("a long array", function() return long.json end), MB // 2 + 1, "every element")
    local escapes = new_request("/", { ["Content-Type"] = "application/json" }, '"' .. rep("\\u0041", MB // 6) .. '"')
    eq(#bounded("escapes", function() return escapes.json end), MB // 6, "decoded")
  end)
end)

describe("Extension parsers are linear", function()
  local auth = require("microdot.auth")
  local CORS = require("microdot.cors").CORS
  local session = require("microdot.session")
  local sse = require("microdot.sse")

  it("strip: runs of whitespace inside and around", function()
    local inner = "a" .. rep(" ", MB) .. "b"
    eq(bounded("strip", function() return datastructures.strip(rep(" ", MB) .. inner .. rep("\t", MB)) end), inner,
      "stripped")
    eq(bounded("strip of spaces only", function() return datastructures.strip(rep(" ", MB)) end), "", "empty")
  end)

  it("TokenAuth: the token of an Authorization header", function()
    local token = auth.TokenAuth()
    local inner = "a" .. rep(" ", MB) .. "b"
    local req = new_request("/", { Authorization = "Bearer " .. rep(" \28", MB // 2) .. inner .. rep("\t\31", MB // 2) })
    eq(bounded("a token in whitespace", function() return token:_get_auth(req) end), inner,
      "stripped as Python's str.strip()")
  end)

  it("CORS: Access-Control-Request-Headers with long whitespace runs", function()
    local a = microdot.Microdot()
    a:get("/", function() return "hi" end)
    CORS(a, { allowed_origins = { "https://a.com" }, allowed_headers = { "X-Token", "Content-Type" } })
    local requested = "x-token" .. rep(" ", MB) .. "," .. rep(" ", MB) .. "X-Other" .. rep(" ", MB) .. ","
      .. rep("\t", MB) .. "content-type" .. rep(" ", MB)
    local res = bounded("a preflight", function()
      return microdot.test_client(a):options("/", { headers = { Origin = "https://a.com",
        ["Access-Control-Request-Method"] = "GET", ["Access-Control-Request-Headers"] = requested } })
    end)
    eq(res.headers["Access-Control-Allow-Headers"], "x-token, content-type", "trimmed names")
  end)

  it("Vary merged with a marked name", function()
    local a = microdot.Microdot()
    a:get("/", function() return "v", { Vary = "X" .. rep(" ", MB) .. "," .. rep(" ", MB) .. "Accept" .. rep(" ", MB) } end)
    CORS(a, { allowed_origins = { "https://a.com" } })
    local res = bounded("a Vary of spaces", function()
      return microdot.test_client(a):get("/", { headers = { Origin = "https://a.com" } })
    end)
    eq(res.headers["Vary"], "X, Accept, Origin", "trimmed names")
  end)

  it("session: an integer claim padded with whitespace", function()
    -- Runs of 256 KiB: the token's base64 and JSON already cost about 1 s
    -- per MB in a debug build; the quadratic trim took minutes on these.
    local key, run = "k", MB // 4
    local token = session.jwt_encode({ exp = rep(" ", run) .. "99999999999" .. rep(" ", run), a = 1 }, key)
    eq(bounded("a padded exp", function() return session.jwt_decode(token, key) end).a, 1, "accepted")
    local bad = session.jwt_encode({ exp = rep(" ", run) .. "9" .. rep(" ", run) .. "9" }, key)
    eq(bounded("spaces inside exp", function() return session.jwt_decode(bad, key) end), nil, "refused")
  end)

  it("SSE: event data split into lines", function()
    local n = MB // 2
    for _, brk in ipairs({ "\n", "\r", "\r\n" }) do
      local event = bounded("data of short lines", function() return sse.format_event(rep("a" .. brk, n)) end)
      eq(event == rep("data: a\n", n) .. "data: \n\n", true, "one data line each, broken by " .. ("%q"):format(brk))
    end
    eq(bounded("one long line", function() return sse.format_event(rep("a", MB)) end), "data: " .. rep("a", MB)
      .. "\n\n", "one line")
  end)

  it("Content-Type after a run of spaces", function()
    local json = new_request("/", { ["Content-Type"] = rep(" ", MB) .. "application/json" }, "[1]")
    eq(bounded("a padded JSON type", function() return json.json end), { 1 }, "parsed")
    local other = new_request("/", { ["Content-Type"] = rep(" ", MB) .. "text/plain" }, "[1]")
    eq(bounded("a padded other type", function() return other.json end), nil, "not JSON")
  end)

  it("the test client: event fields and Set-Cookie attributes", function()
    local a = microdot.Microdot()
    a:get("/events", function()
      return "data:" .. rep(" ", MB) .. "x" .. rep(" ", MB) .. "\n\n", 200, { ["Content-Type"] = "text/event-stream" }
    end)
    a:get("/cookies", function()
      -- A header value cannot start or end with whitespace: the runs are inside.
      return "c", 200, { ["Set-Cookie"] = { "a" .. rep(" ", MB) .. "b", "k=v; Path=/" .. rep(" ", MB) .. "x",
        "gone=1; Max-Age=0" .. rep(" ", MB) .. "x", "t=1;" .. rep(" ", MB) .. "Secure" .. rep(" ", MB) .. "x" } }
    end)
    local client = microdot.test_client(a)
    local res = bounded("an event of spaces", function() return client:get("/events") end)
    eq(res.events[1].data, "x", "trimmed data")
    client.cookies.gone = "1"
    bounded("Set-Cookie of spaces", function() return client:get("/cookies") end)
    eq({ client.cookies.k, client.cookies.gone, client.cookies.t, client.cookies["a" .. rep(" ", MB) .. "b"] },
      { "v", nil, "1", nil }, "kept, deleted (Max-Age not a number is 0), kept, no '='")
  end)
end)

describe("URL patterns match in linear time", function()
  local function no_match(pattern, path)
    local compiled = microdot.URLPattern.new(pattern)
    return bounded(pattern, function() return compiled:match(path) end)
  end

  it("<re:> patterns that backtrack in a backtracking engine", function()
    eq(no_match("/re/<re:(a+)+b:x>", "/re/" .. rep("a", MB) .. "!"), nil, "(a+)+b")
    eq(no_match("/re/<re:(a|aa)+:x>/end", "/re/" .. rep("a", MB) .. "/x"), nil, "(a|aa)+")
    eq(no_match("/re/<re:(.*)*x:x>", "/re/" .. rep("y", MB)), nil, "(.*)*x")
    eq(microdot.URLPattern.new("/re/<re:(a+)+b:x>"):match("/re/aaab"), { "aaab" }, "still matches")
  end)

  it("several <path:> segments", function()
    local path = "/lp/" .. rep("a/", MB // 2) .. "x"
    eq(no_match("/lp/<path:a>/<path:b>/<path:c>/end", path), nil, "three paths")
    eq(no_match("/lp/<path:a>/<b>/<path:c>/<d>/end", path), nil, "paths and strings")
    eq(microdot.URLPattern.new("/lp/<path:a>/<path:b>/<path:c>/end"):match("/lp/1/2/3/4/end"),
      { "1/2", "3", "4" }, "the first path takes all it can, as Microdot's regex does")
  end)

  it("one <path:>, strings and ints", function()
    eq(no_match("/<path:a>/<b>/<c>/end", "/" .. rep("a/", MB // 2) .. "x"), nil, "a path then strings")
    eq(no_match("/<int:n>/x", "/" .. rep("1", MB) .. "-"), nil, "a long int")
    eq(no_match("/<a>/<b>/<c>", "/" .. rep("a", MB) .. "/"), nil, "long strings")
  end)

  it("registered types", function()
    microdot.URLPattern.register_type("evil", "(x+x+)+y")
    eq(no_match("/t/<evil:v>", "/t/" .. rep("x", MB)), nil, "a registered backtracking type")
    eq(microdot.URLPattern.new("/t/<evil:v>"):match("/t/xxy"), { "xxy" }, "matches")
  end)

  it("a pattern RE2 cannot run linearly (a backreference) is refused when it is added", function()
    local ok, err = pcall(microdot.URLPattern.new, "/<re:(a)\\1:x>")
    eq({ ok, tostring(err):find("invalid regular expression", 1, true) ~= nil }, { false, true }, "refused")
  end)

  it("captures inside <re:> do not shift the arguments after it", function()
    eq(microdot.URLPattern.new("/<re:(a)(b)?c:x>/<int:n>/<re:[0-9]+:d>"):match("/ac/7/42"), { "ac", 7, "42" },
      "groups of the app's pattern")
  end)
end)

describe("Request data never shadows a method", function()
  local names = { "get", "getlist", "__index", "__newindex", "__pairs", "__call", "__gc", "__metatable" }

  local function query_of(value)
    local parts = {}
    for i, name in ipairs(names) do parts[i] = name .. "=" .. value .. i end
    return table.concat(parts, "&")
  end

  local function check_multidict(md, what, value)
    eq({ type(md.get), type(md.getlist) }, { "function", "function" }, what .. ": methods")
    for i, name in ipairs(names) do
      eq(md:get(name), value .. i, what .. ": get " .. name)
      eq(md:getlist(name), { value .. i }, what .. ": getlist " .. name)
    end
    local seen = {}
    for k in pairs(md) do seen[#seen + 1] = k end
    table.sort(seen)
    local expected = { table.unpack(names) }
    table.sort(expected)
    eq(seen, expected, what .. ": pairs gives every key")
  end

  it("req.args", function()
    local req = new_request("/?" .. query_of("q"))
    check_multidict(req.args, "args", "q")
    eq(getmetatable(req.args).__index.get ~= nil, true, "the class is untouched")
  end)

  it("req.form, urlencoded and multipart, and req.files", function()
    local urlencoded = request.new_request(app, "POST", "/", "1.1",
      { ["Content-Type"] = "application/x-www-form-urlencoded" }, query_of("f"), "h", 1)
    check_multidict(urlencoded.form, "urlencoded form", "f")
    local parts = {}
    for i, name in ipairs(names) do
      parts[#parts + 1] = '--B\r\nContent-Disposition: form-data; name="' .. name .. '"\r\n\r\nm' .. i .. "\r\n"
      parts[#parts + 1] = '--B\r\nContent-Disposition: form-data; name="' .. name .. '"; filename="' .. name
        .. '.txt"\r\n\r\ncontent\r\n'
    end
    local multi = request.new_request(app, "POST", "/", "1.1",
      { ["Content-Type"] = "multipart/form-data; boundary=B" }, table.concat(parts) .. "--B--\r\n", "h", 1)
    check_multidict(multi.form, "multipart form", "m")
    local files = multi.files
    eq({ type(files.get), type(files.getlist) }, { "function", "function" }, "files: methods")
    for _, name in ipairs(names) do
      eq(files:get(name).filename, name .. ".txt", "files: get " .. name)
      eq(files:get(name):read(), "content", "files: the upload's own methods")
    end
  end)

  it("a MultiDict the app fills", function()
    local md = microdot.MultiDict()
    datastructures.multidict_add(md, "get", "x")
    datastructures.multidict_add(md, "plain", "y")
    eq({ type(md.get), md:get("get"), md.plain, md:get("plain") }, { "function", "x", "y", "y" }, "both kinds of key")
  end)

  it("req.headers and req.cookies", function()
    local headers = { Host = "example.com", ["Content-Type"] = "text/plain" }
    for i, name in ipairs(names) do headers[name] = "h" .. i end
    local cookie = {}
    for i, name in ipairs(names) do cookie[i] = name .. "=c" .. i end
    headers.Cookie = table.concat(cookie, "; ") .. "; session=s"
    local req = new_request("/", headers)
    eq({ req.headers["host"], req.headers["content-type"], req.content_type }, { "example.com", "text/plain",
      "text/plain" }, "lookups")
    for i, name in ipairs(names) do
      eq(req.headers[name:upper()], "h" .. i, "header " .. name)
      eq(req.cookies[name], "c" .. i, "cookie " .. name)
    end
    eq(req.cookies.session, "s", "another cookie")
  end)

  it("end to end through the test client", function()
    local a = microdot.Microdot()
    a:get("/", function(req)
      return { get = req.args:get("get"), list = req.args:getlist("getlist"), index = req.args:get("__index"),
        other = req.args.other }
    end)
    local res = microdot.test_client(a):get("/?get=1&getlist=2&getlist=3&__index=4&other=5")
    eq(res.json, { get = "1", list = { "2", "3" }, index = "4", other = "5" }, "the handler's view")
  end)
end)
runner.run()
