-- microdot.session's JWTs and sessions, microdot.auth's Basic decoding and
-- microdot.login's pieces, in process (the oracle suite compares them with
-- Python Microdot over HTTP). Tokens below were made by PyJWT 2.10+.
local microdot = require("microdot")
local session = require("microdot.session")
local auth = require("microdot.auth")
local login_module = require("microdot.login")
local core = require("microdot.core")
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq
local json = microdot.json

local SECRET = "top-secret"
-- jwt.encode({'a':1,'s':'é','f':1.5,'b':True,'n':None,'t':{'x':[1,2]}}, 'top-secret')
local PY_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
  .. "eyJhIjoxLCJzIjoiXHUwMGU5IiwiZiI6MS41LCJiIjp0cnVlLCJuIjpudWxsLCJ0Ijp7IngiOlsxLDJdfX0."
  .. "JHtOfR6vmLEqeNcCdCTXvL9f459RBVDfgtlqfjDbBO0"
-- jwt.encode({'a': 1}, 'other')
local OTHER_SECRET_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhIjoxfQ.8_ZxJetEvyqa84nfzUq9_15JrL_NATeCTcjiNkJSk_o"
-- jwt.encode({'a': 1, 'exp': <past>}, 'top-secret')
local EXPIRED_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhIjoxLCJleHAiOjE3OTYwODExMTB9.f7EIZJkQx6kV0rqXQXGHn-0OY7t33Xe38ALtq8b1Kxs"

local function b64(s) return core.b64url_encode(s) end

-- A token with the given header and payload texts, signed with `key`.
local function forge(header, payload, key)
  local input = b64(header) .. "." .. b64(payload)
  return input .. "." .. b64(core.hmac_sha256(key or SECRET, input))
end

describe("core crypto", function()
  it("HMAC-SHA256 matches RFC 4231 test case 2", function()
    local mac = core.hmac_sha256("Jefe", "what do ya want for nothing?")
    eq((mac:gsub(".", function(c) return string.format("%02x", c:byte()) end)),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
  end)
  it("verifies in constant time and refuses other MACs", function()
    local mac = core.hmac_sha256("k", "m")
    eq(core.hmac_sha256_verify("k", "m", mac), true)
    eq(core.hmac_sha256_verify("k", "m", mac:sub(1, 31) .. "x"), false)
    eq(core.hmac_sha256_verify("k", "m", mac:sub(1, 16)), false)
    eq(core.hmac_sha256_verify("other", "m", mac), false)
  end)
  it("b64url_encode writes unpadded base64url", function()
    eq(b64(""), "")
    eq(b64("a"), "YQ")
    eq(b64("ab"), "YWI")
    eq(b64("abc"), "YWJj")
    eq(b64("\251\255\254"), "-__-")
  end)
  it("a2b_base64 reads as Python's binascii.a2b_base64", function()
    -- Each pair: input, what Python 3.11 gives (nil: binascii.Error).
    local cases = {
      { "YWJj", "abc" }, { "YW Jj", "abc" }, { "YWI=", "ab" }, { "YWI", nil },
      { "YQ==YWJj", "a" }, { "Y", nil }, { "YQ=", nil }, { "Y===", nil },
      { "YWJ=j", "ab" }, { "====", "" }, { "YQ=x=", "a\12" }, { "", "" },
      { "Y\0W\255Jj", "abc" }, { "-_", "" },
    }
    for _, case in ipairs(cases) do
      eq(core.a2b_base64(case[1]), case[2], "a2b_base64(" .. string.format("%q", case[1]) .. ")")
    end
    local _, message = core.a2b_base64("Y")
    eq(message, "Invalid base64-encoded string: number of data characters (1) cannot be 1 more than a multiple of 4")
    _, message = core.a2b_base64("YWI")
    eq(message, "Incorrect padding")
  end)
end)

describe("JWT", function()
  it("reads a PyJWT token: UTF-8, integers, floats, booleans, null, nesting", function()
    local payload = session.jwt_decode(PY_TOKEN, SECRET)
    eq(payload.a, 1)
    eq(math.type(payload.a), "integer")
    eq(payload.s, "é")
    eq(payload.f, 1.5)
    eq(payload.b, true)
    eq(payload.n, json.null)
    eq(payload.t.x, { 1, 2 })
  end)
  it("writes PyJWT's header and round-trips", function()
    local token = session.jwt_encode({ a = 1 }, SECRET)
    eq(token:match("^[^.]+"), "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9")
    eq(session.jwt_decode(token, SECRET), { a = 1 })
    eq(token, forge('{"alg":"HS256","typ":"JWT"}', '{"a":1}'))
  end)
  it("writes a table with keys 1..n as an object, keys sorted", function()
    local token = session.jwt_encode({ "x", "y" }, SECRET)
    eq(token, forge('{"alg":"HS256","typ":"JWT"}', '{"1":"x","2":"y"}'))
    eq(session.jwt_encode({ b = 1, a = 2 }, SECRET), forge('{"alg":"HS256","typ":"JWT"}', '{"a":2,"b":1}'))
    eq(session.jwt_encode({}, SECRET), forge('{"alg":"HS256","typ":"JWT"}', '{}'))
  end)
  it("refuses what PyJWT refuses", function()
    local H = '{"alg":"HS256","typ":"JWT"}'
    local now = os.time()
    local bad = {
      tampered = PY_TOKEN:sub(1, -3) .. (PY_TOKEN:sub(-2, -2) == "A" and "B" or "A") .. PY_TOKEN:sub(-1),
      other_secret = OTHER_SECRET_TOKEN,
      expired = EXPIRED_TOKEN,
      alg_none = b64('{"alg":"none","typ":"JWT"}') .. "." .. b64('{"a":1}') .. ".",
      alg_missing = forge('{"typ":"JWT"}', '{"a":1}'),
      alg_hs512 = forge('{"alg":"HS512"}', '{"a":1}'),
      crit = forge('{"alg":"HS256","crit":["exp"]}', '{"a":1}'),
      kid_number = forge('{"alg":"HS256","kid":1}', '{"a":1}'),
      b64_false = forge('{"alg":"HS256","b64":false,"crit":["b64"]}', '{"a":1}'),
      header_array = forge('[1]', '{"a":1}'),
      payload_array = forge(H, '[1,2]'),
      payload_string = forge(H, '"a"'),
      payload_not_json = forge(H, '{a:1}'),
      exp_now = forge(H, '{"exp":' .. now .. '}'),
      exp_string = forge(H, '{"exp":"soon"}'),
      exp_null = forge(H, '{"exp":null}'),
      nbf_future = forge(H, '{"nbf":' .. (now + 60) .. '}'),
      iat_future = forge(H, '{"iat":' .. (now + 60) .. '}'),
      aud = forge(H, '{"aud":"x"}'),
      sub_number = forge(H, '{"sub":1}'),
      jti_table = forge(H, '{"jti":{}}'),
      two_segments = b64(H) .. "." .. b64('{"a":1}'),
      one_segment = b64(H),
      bad_base64 = b64(H) .. ".a." .. "x",
      empty = "",
    }
    for name, token in pairs(bad) do
      eq(session.jwt_decode(token, SECRET), nil, name)
    end
  end)
  it("accepts what PyJWT accepts", function()
    local H = '{"alg":"HS256","typ":"JWT"}'
    local now = os.time()
    local good = {
      exp_future = forge(H, '{"exp":' .. (now + 60) .. '}'),
      exp_float = forge(H, '{"exp":' .. (now + 60) .. '.5}'),
      exp_numeric_string = forge(H, '{"exp":" ' .. (now + 60) .. ' "}'),
      nbf_past = forge(H, '{"nbf":' .. (now - 60) .. '}'),
      iat_now = forge(H, '{"iat":' .. now .. '}'),
      aud_empty = forge(H, '{"aud":""}'),
      aud_null = forge(H, '{"aud":null}'),
      sub_string = forge(H, '{"sub":"x"}'),
      no_typ = forge('{"alg":"HS256"}', '{}'),
      kid_string = forge('{"alg":"HS256","kid":"k"}', '{}'),
    }
    for name, token in pairs(good) do
      eq(type(session.jwt_decode(token, SECRET)), "table", name)
    end
    eq(session.jwt_decode(forge(H, '{"exp":true}'), SECRET), nil, "exp true is int 1, long past")
  end)
  it("reads segments as strict base64url, padding allowed", function()
    local function signed(header_segment, payload_segment)
      local input = header_segment .. "." .. payload_segment
      return input .. "." .. b64(core.hmac_sha256(SECRET, input))
    end
    local header = b64('{"alg":"HS256"}')
    local payload = b64('{"a":1}') -- "eyJhIjoxfQ", 10 characters
    eq(session.jwt_decode(signed(header, payload), SECRET), { a = 1 })
    eq(session.jwt_decode(signed(header, payload .. "=="), SECRET), { a = 1 }, "padded to 12")
    eq(session.jwt_decode(signed(header, payload .. "="), SECRET), nil, "11 characters with padding")
    eq(session.jwt_decode(signed(header, payload .. "==="), SECRET), nil, "three =")
    eq(session.jwt_decode(signed(header, "*" .. payload), SECRET), nil, "outside the alphabet")
    eq(session.jwt_decode(signed(header, payload:sub(1, -2) .. "R"), SECRET), nil, "not canonical")
    eq(session.jwt_decode(signed(header, payload .. "A"), SECRET), nil, "a length of 4n+1")
  end)
end)

describe("Session", function()
  local app = microdot.Microdot()
  session.Session(app, { secret_key = SECRET })
  app:get("/read", session.with_session(function(req, s)
    return json.encode({ marks = req.g._vary, a = s.a })
  end))
  app:get("/plain", function(req) return tostring(req.g._vary) end)
  app:get("/args/<int:id>", session.with_session(function(req, s, id)
    return type(s.save) .. " " .. id
  end))
  app:get("/twice", session.with_session(function(req, s)
    s.n = 1
    s:save()
    s.n = 2
    s:save()
    return "ok"
  end))
  app:get("/same", function(req)
    return tostring(app._session:get(req) == app._session:get(req))
  end)
  app:get("/huge", session.with_session(function(req, s)
    s.big = ("x"):rep(5000)
    local ok, err = pcall(function() s:save() end)
    return tostring(ok) .. " " .. tostring(err)
  end))
  app:get("/unencodable", session.with_session(function(req, s)
    s.f = print
    local ok, err = pcall(function() s:save() end)
    local ok2, err2 = pcall(function() app._session:encode({ [true] = 1 }) end)
    return tostring(ok) .. " " .. err .. "|" .. tostring(ok2) .. " " .. err2
  end))
  app:get("/save-then-fail", session.with_session(function(req, s)
    s.a = 1
    s:save()
    error("boom")
  end))
  local client = microdot.test_client(app)

  it("marks Vary Cookie where the session is read, only there", function()
    local res = client:get("/read", { headers = { Cookie = "session=" .. session.jwt_encode({ a = 5 }, SECRET) } })
    eq(json.decode(res.text), { marks = { Cookie = true }, a = 5 })
    eq(client:get("/plain").text, "nil")
  end)
  it("passes URL arguments on after the session", function()
    eq(client:get("/args/7").text, "function 7")
  end)
  it("makes the session once per request", function()
    eq(client:get("/same").text, "true")
  end)
  it("writes one Set-Cookie per save, each encoded at save time", function()
    local res = microdot.test_client(app):get("/twice")
    local cookies = res.headers["Set-Cookie"]
    eq(#cookies, 2)
    eq(session.jwt_decode(cookies[1]:match("^session=([^;]+)"), SECRET), { n = 1 })
    eq(session.jwt_decode(cookies[2]:match("^session=([^;]+)"), SECRET), { n = 2 })
  end)
  it("refuses a Set-Cookie over 4096 bytes at save()", function()
    local text = client:get("/huge").text
    eq(text:match("^false"), "false")
    eq(text:find("session_spec.lua:%d+: the session cookie would be %d+ bytes") ~= nil, true, text)
  end)
  it("names the script's line when a value cannot be encoded", function()
    local text = client:get("/unencodable").text
    eq(text:find("^false [^|]*session_spec%.lua:%d+: cannot encode a function value as JSON|") ~= nil, true, text)
    eq(text:find("|false [^|]*session_spec%.lua:%d+: cannot encode a table with a boolean key as JSON$") ~= nil,
      true, text)
    eq(select(2, text:gsub("microdot/session%.lua", "")), 0, "no framework position in " .. text)
  end)
  it("writes no cookie on the error path", function()
    local res = microdot.test_client(app):get("/save-then-fail")
    eq(res.status_code, 500)
    eq(res.headers["Set-Cookie"], nil)
  end)
  it("checks its options at the call", function()
    local ok, err = pcall(function() session.Session(app, { secret = "x" }) end)
    eq(ok, false)
    eq(err:find("session_spec.lua:%d+: Session: unknown option 'secret'") ~= nil, true, err)
    ok, err = pcall(session.Session, app, { secret_key = 1 })
    eq(ok, false)
    eq(err:find("option 'secret_key' must be string") ~= nil, true, err)
    ok, err = pcall(session.Session, app, { cookie_options = { http_only = "yes" } })
    eq(ok, false)
    eq(err:find("option 'http_only' must be boolean") ~= nil, true, err)
    ok, err = pcall(session.with_session, 42)
    eq(ok, false)
    eq(err:find("with_session expects a function") ~= nil, true, err)
  end)
  it("Session():initialize(app, {...}) and Session.new", function()
    local other = microdot.Microdot()
    local s = session.Session():initialize(other, { secret_key = "k", cookie_options = { path = "/x" } })
    eq(other._session, s)
    eq(s.cookie_options, { path = "/x", http_only = true })
    local third = microdot.Microdot()
    eq(session.Session.new(third, { secret_key = "k" }).cookie_options, { path = "/", http_only = true })
    eq(s:decode(s:encode({ z = true })), { z = true })
    eq(s:decode(s:encode({ z = true }, "k2"), "k2"), { z = true })
    eq(s:decode(s:encode({ z = true }, "k2")), {})
  end)
end)

describe("Session data never shadows a method", function()
  -- What Python Microdot sharing the secret may write: dict keys named like
  -- the session's methods, and like Lua's metamethods.
  local NAMES = { "save", "delete", "get", "__index", "__newindex", "__pairs", "__metatable", "__call" }
  local app = microdot.Microdot()
  session.Session(app, { secret_key = SECRET })
  app:get("/resave", session.with_session(function(req, s)
    local methods = type(s.save) .. type(s.delete) .. type(s.get)
    s.touched = true
    s:save()
    local keys = {}
    for k in pairs(s) do keys[#keys + 1] = k end
    table.sort(keys)
    return { methods = methods, keys = keys, save = s:get("save"), get = s:get("get"),
      index = s:get("__index"), visits = s:get("visits"), missing = s:get("missing", "default") }
  end))
  app:get("/assign", session.with_session(function(req, s)
    s.save = "stored"            -- data under "save": the method stays
    s.get = { nested = true }
    s.delete = nil               -- no data under "delete": nothing happens
    s.plain = 1
    s:save()
    local before = s:get("save")
    s.save = nil                 -- removes the data, not the method
    s:save()
    return { before = before, after = s:get("save", "gone"), method = type(s.save) }
  end))
  local client = microdot.test_client(app)

  local function payload_with_names()
    local parts = {}
    for i, name in ipairs(NAMES) do parts[i] = json.encode(name) .. ":" .. json.encode(name .. "-value") end
    return "{" .. table.concat(parts, ",") .. ',"visits":3}'
  end

  it("reads, iterates and re-encodes a cookie with keys named like methods", function()
    local token = forge('{"alg":"HS256","typ":"JWT"}', payload_with_names())
    local res = client:get("/resave", { headers = { Cookie = "session=" .. token } })
    eq(res.status_code, 200, res.text)
    local body = res.json
    eq(body.methods, "functionfunctionfunction")
    eq(body.save, "save-value")
    eq(body.get, "get-value")
    eq(body.index, "__index-value")
    eq(body.visits, 3)
    eq(body.missing, "default")
    local expected_keys = { "touched", "visits" }
    for _, name in ipairs(NAMES) do expected_keys[#expected_keys + 1] = name end
    table.sort(expected_keys)
    eq(body.keys, expected_keys, "pairs gives every key")
    local saved = session.jwt_decode(res.headers["Set-Cookie"]:match("^session=([^;]+)"), SECRET)
    local expected = json.decode(payload_with_names())
    expected.touched = true
    eq(saved, expected, "the cookie holds every key, exactly")
  end)
  it("stores assignments to a method's name as data", function()
    local res = microdot.test_client(app):get("/assign")
    eq(res.json, { before = "stored", after = "gone", method = "function" })
    local cookies = res.headers["Set-Cookie"]
    eq(session.jwt_decode(cookies[1]:match("^session=([^;]+)"), SECRET),
      { save = "stored", get = { nested = true }, plain = 1 })
    eq(session.jwt_decode(cookies[2]:match("^session=([^;]+)"), SECRET), { get = { nested = true }, plain = 1 })
  end)
end)

describe("BasicAuth", function()
  local basic = auth.BasicAuth()
  local function creds(header)
    return { basic:_get_auth({ headers = microdot.NoCaseDict({ Authorization = header }) }) }
  end
  it("decodes as Microdot: a2b_base64, UTF-8, first colon", function()
    eq(creds("Basic " .. "dXNlcjpwYTpzcw=="), { "user", "pa:ss" })
    eq(creds("Basic dXNlcjpwYTpzcw"), {}) -- bad padding
    eq(creds("Basic dXNl cjpw YTpz cw=="), { "user", "pa:ss" }) -- spaces skipped
    eq(creds("basic dXNlcjpwYTpzcw=="), {}) -- case-sensitive scheme
    eq(creds("Basic " .. "dXNlcg=="), {}) -- no colon
    eq(creds("Basic " .. "/w=="), {}) -- not UTF-8
    eq(creds("Basic w6k6w6k="), { "é", "é" })
    eq(creds("Basic dXNlcjpw\195\169"), {}) -- non-ASCII in the header
    eq(creds(nil), {})
  end)
end)

describe("BasicAuth's challenge", function()
  it("writes realm and charset as quoted-strings (RFC 9110 section 5.6.4)", function()
    local _, status, headers = auth.BasicAuth({ realm = 'say "hi" \\o/' }):authentication_error({})
    eq(status, 401)
    eq(headers["WWW-Authenticate"], 'Basic realm="say \\"hi\\" \\\\o/", charset="UTF-8"')
    eq(select(3, auth.BasicAuth():authentication_error({}))["WWW-Authenticate"],
      'Basic realm="Please login", charset="UTF-8"')
  end)
  it("wants a scheme that is a token, at the call", function()
    for _, scheme in ipairs({ "Two words", "", "a,b", 'q"' }) do
      local ok, err = pcall(function() auth.BasicAuth({ scheme = scheme }) end)
      eq(ok, false, scheme)
      eq(err:find("session_spec%.lua:%d+: BasicAuth: scheme must be a token") ~= nil, true, err)
    end
    eq(auth.BasicAuth({ scheme = "X-Custom.1" }).scheme, "X-Custom.1")
  end)
end)

describe("auth and login wrappers", function()
  local app = microdot.Microdot()
  session.Session(app, { secret_key = SECRET })
  local token = auth.TokenAuth()
  token:authenticate(function(req, value) return value == "t" and "tina" or nil end)
  local login = login_module.Login()
  login:user_loader(function(id) return { id = id, name = "u" .. id } end)
  app:get("/t/<int:a>/<b>", token(function(req, a, b) return req.g.current_user .. " " .. a .. " " .. b end))
  app:get("/o/<int:a>", token:optional(function(req, a) return tostring(req.g.current_user) .. " " .. a end))
  app:get("/l/<int:a>", login(function(req, a) return req.g.current_user.name .. " " .. a end))
  app:get("/f/<int:a>", login:fresh(function(req, a) return "fresh " .. a end))
  app:post("/in", function(req) return login:login_user(req, { id = 7 }) end)
  app:get("/who", function(req)
    local first = login:get_current_user(req)
    return tostring(first and first.name) .. " " .. tostring(login:get_current_user(req) == first)
  end)
  local client = microdot.test_client(app)

  it("pass URL arguments on after their own", function()
    eq(client:get("/t/1/x", { headers = { Authorization = "Bearer t" } }).text, "tina 1 x")
    eq(client:get("/o/2").text, "nil 2")
    client:post("/in")
    eq(client:get("/l/3").text, "u7 3")
    eq(client:get("/f/4").text, "fresh 4")
    eq(client:get("/who").text, "u7 true")
  end)
  it("check their options and arguments at the call", function()
    local cases = {
      { function() auth.BasicAuth({ realm = 1 }) end, "BasicAuth: option 'realm' must be string" },
      { function() auth.TokenAuth({ heder = "X" }) end, "TokenAuth: unknown option 'heder'" },
      { function() auth.BasicAuth()(nil) end, "an auth wrapper expects a function" },
      { function() auth.TokenAuth():authenticate("x") end, "authenticate expects a function" },
      { function() login_module.Login({ login_url = true }) end, "Login: option 'login_url' must be string" },
      { function() login_module.Login():user_loader(1) end, "user_loader expects a function" },
      { function() login_module.Login()(1) end, "a login wrapper expects a function" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(case[1])
      eq(ok, false)
      eq(err:find("session_spec%.lua:%d+: ") ~= nil and err:find(case[2], 1, true) ~= nil, true, err)
    end
  end)
  it("login_user needs a user with an id", function()
    local other = microdot.Microdot()
    session.Session(other, { secret_key = SECRET })
    local login2 = login_module.Login()
    other:post("/", function(req)
      local ok, err = pcall(function() login2:login_user(req, { name = "x" }) end)
      return tostring(ok) .. " " .. err
    end)
    local text = microdot.test_client(other):post("/").text
    eq(text:find("^false .*session_spec%.lua:%d+: login_user: the user must be a table with an id") ~= nil, true, text)
  end)
  it("BasicAuth has no errorhandler, as Microdot; TokenAuth has", function()
    eq(auth.BasicAuth().errorhandler, nil)
    eq(type(auth.TokenAuth().errorhandler), "function")
  end)
end)

describe("login urlencode", function()
  it("encodes in the spec's order", function()
    eq(login_module.urlencode("/a b?c=d&e#f+g%h"), "/a+b%3Fc%3Dd%26e%23f%2Bg%25h")
  end)
  it("writes Locations that are URI-references (RFC 9110 section 10.2.2)", function()
    local app = microdot.Microdot()
    session.Session(app, { secret_key = SECRET })
    local login = login_module.Login()
    login:user_loader(function(id) return { id = id } end)
    app:post("/in", function(req) return login:login_user(req, { id = 1 }) end)
    app:get("/p", login(function() return "x" end))
    local cases = {
      { "/ok%20path", "/ok%20path" },           -- next arrives decoded: "/ok path"
      { "/a%2520b", "/a%20b" },                  -- "/a%20b": an escape kept as it is
      { "/caf%C3%A9", "/caf%C3%A9" },
      { "/q%3Fx%3D%22%3C%3E%7B%7D", "/q?x=%22%3C%3E%7B%7D" },
      { "/100%25", "/100%25" },                  -- "/100%": a bare % encoded
      { "/f%23a%23b", "/f#a%23b" },              -- one fragment
      { "/s%5Bx%5D", "/s%5Bx%5D" },              -- brackets outside an authority
      { "/plus+sign", "/plus%20sign" },         -- a query's + is a space
    }
    for _, case in ipairs(cases) do
      local res = microdot.test_client(app):post("/in?next=" .. case[1])
      eq(res.headers["Location"], case[2], case[1])
    end
    local res = microdot.test_client(app):get('/p?q=<x>"')
    eq(res.status_code, 302)
    eq(res.headers["Location"], "/login?next=/p%3Fq%3D%3Cx%3E%22")
  end)
  it("helpers.uri_reference keeps [ ] in an authority only", function()
    local uri_reference = require("microdot.helpers").uri_reference
    eq(uri_reference("http://[::1]:8080/a[b]?c d#e#f"), "http://[::1]:8080/a%5Bb%5D?c%20d#e%23f")
    eq(uri_reference("//[::1]/x"), "//[::1]/x")
    eq(uri_reference("/é\t\0"), "/%C3%A9%09%00")
    eq(uri_reference("/a-z_A.Z~0:9@!$&'()*+,;=/?"), "/a-z_A.Z~0:9@!$&'()*+,;=/?")
    eq(uri_reference("%"), "%25")
    eq(uri_reference("%4"), "%254")
  end)
  it("needs a Session", function()
    local app = microdot.Microdot()
    local login = login_module.Login()
    login:user_loader(function(id) return { id = id } end)
    app:get("/", login(function() return "x" end))
    local res = microdot.test_client(app):get("/")
    eq(res.status_code, 500)
  end)
end)

runner.run()
