-- The twin of cors_csrf_app.py, configured by CORS_CSRF_CONFIG.
local microdot = require("microdot")
local CORS = require("microdot.cors").CORS
local CSRF = require("microdot.csrf").CSRF

local CONFIGS = {
  cors_star = {{allowed_origins = "*", allow_credentials = true, expose_headers = {"X-Total"}}},
  cors_list = {{allowed_origins = {"https://a.com", "https://b.org"}, allow_credentials = true,
    allowed_methods = {"GET", "POST"}, allowed_headers = {"X-Token", "Content-Type"}, max_age = 600,
    expose_headers = {"X-Total", "X-Page"}}},
  cors_bare = {{}},
  cors_off = {{allowed_origins = "*", handle_cors = false}},
  csrf_plain = {nil, {}},
  csrf_cors = {{allowed_origins = {"https://a.com"}}, {}},
  csrf_sub = {{allowed_origins = {"https://a.com", "http://b.org"}}, {allow_subdomains = true}},
  csrf_some = {{allowed_origins = {"https://a.com"}}, {protect_all = false}},
}

local app = microdot.Microdot()
local config = assert(CONFIGS[os.getenv("CORS_CSRF_CONFIG")], "unknown CORS_CSRF_CONFIG")
local cors = config[1] and CORS(app, config[1]) or nil
local csrf
if config[2] then
  local options = config[2]
  options.cors = cors
  csrf = CSRF(app, options)
end
local function exempt(f) return csrf and csrf:exempt(f) or f end
local function protect(f) return csrf and csrf:protect(f) or f end

app:route("/submit", {"GET", "POST", "PUT", "DELETE"}, function(req) return "done" end)
app:post("/exempt", exempt(function(req) return "exempt" end))
app:get("/protected", protect(function(req) return "protected" end))
app:get("/vary", function(req)
  req.g._vary = req.g._vary or {}
  req.g._vary.Cookie = true   -- what a session does
  return "vary", {Vary = "X, Accept"}
end)
app:get("/fail", function(req) error("boom") end)

return app
