-- JSON bodies are UTF-8 text (RFC 8259 section 8.1) though Lua strings are
-- bytes: what is not UTF-8 becomes U+FFFD, what is stays as it is.
local microdot = require("microdot")
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq

local function encoded(value)
  local app = microdot.Microdot()
  app:get("/", function(req) return { v = value } end)
  return microdot.test_client(app):get("/").text
end

describe("JSON strings", function()
  it("keeps valid UTF-8 of every length", function()
    eq(encoded("a\u{e9}\u{20ac}\u{1f600}\u{10ffff}"), '{"v":"a\u{e9}\u{20ac}\u{1f600}\u{10ffff}"}', "1 to 4 bytes")
  end)

  it("replaces each byte that is not UTF-8 with U+FFFD", function()
    local cases = {
      { "\xff", "\u{fffd}" },                  -- never a UTF-8 byte
      { "a\x80b", "a\u{fffd}b" },              -- a lone continuation byte
      { "\xc3", "\u{fffd}" },                  -- cut at the end
      { "\xc3(", "\u{fffd}(" },                -- a lead byte without its continuation
      { "\xc0\xaf", "\u{fffd}\u{fffd}" },      -- an overlong form of /
      { "\xed\xa0\x80", "\u{fffd}\u{fffd}\u{fffd}" }, -- a surrogate
      { "\xf4\x90\x80\x80", "\u{fffd}\u{fffd}\u{fffd}\u{fffd}" }, -- past U+10FFFF
      { "\xe2\x82", "\u{fffd}\u{fffd}" },      -- a 3-byte sequence cut short
    }
    for _, case in ipairs(cases) do
      eq(encoded(case[1]), '{"v":"' .. case[2] .. '"}', ("%q"):format(case[1]))
    end
  end)

  it("a query value that is not UTF-8 goes out as valid JSON", function()
    local app = microdot.Microdot()
    app:get("/", function(req) return req.args:getlist("a") end)
    local res = microdot.test_client(app):get("/?a=%ff&a=ok")
    eq(res.text, '["\u{fffd}","ok"]', "body")
    eq(res.json, { "\u{fffd}", "ok" }, "decodes")
  end)

  it("getlist gives a JSON array, even an empty one (a list in Microdot)", function()
    local app = microdot.Microdot()
    app:get("/", function(req) return { none = req.args:getlist("x"), two = req.args:getlist("a") } end)
    local res = microdot.test_client(app):get("/?a=1&a=2")
    eq(res.json, { none = {}, two = { "1", "2" } }, "decoded")
    eq(res.text:find('"none":[]', 1, true) ~= nil, true, res.text)
  end)

  it("escapes quotes, backslashes and control characters next to UTF-8", function()
    eq(encoded('\u{e9}"\\\n\1'), '{"v":"\u{e9}\\"\\\\\\n\\u0001"}', "escapes")
  end)
end)

describe("JSON encoding", function()
  it("writes integers, shortest floats, escapes and invalid UTF-8 as before", function()
    local encode = microdot.json.encode
    eq(encode({ 1, -2, 0.1, 1e300, 2^53, math.mininteger, 1.5e-7, -0.0 }),
      "[1,-2,0.1,1e+300,9007199254740992.0,-9223372036854775808,1.5e-07,-0.0]", "numbers")
    eq(encode("a\"b\\c\n\r\t\b\f\1\127é\255"), '"a\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\127é\239\191\189"', "string")
    eq(encode({}), "{}", "empty table")
    eq(encode(microdot.json.array()), "[]", "empty array")
    eq(encode(string.rep("x", 100000)):len(), 100002, "a long string grows the buffer")
  end)

  it("refuses a table that contains itself, and nesting that is too deep", function()
    local t = { a = {} }
    t.a.b = t
    local ok, err = pcall(microdot.json.encode, t)
    eq({ ok, tostring(err):match("contains itself") ~= nil }, { false, true }, "cycle")
    local deep = {}
    for _ = 1, 600 do deep = { deep } end
    ok, err = pcall(microdot.json.encode, deep)
    eq({ ok, tostring(err):match("too deep") ~= nil }, { false, true }, "depth")
    local shared = { 1 }
    eq(microdot.json.encode({ shared, shared }), "[[1],[1]]", "a table twice is no cycle")
  end)
end)
runner.run()
