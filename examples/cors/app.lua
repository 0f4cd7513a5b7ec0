-- An API for a browser front end served from another origin: CORS lets the
-- front end call it with its cookies; CSRF refuses state-changing requests
-- a browser sends from any other site.
--   microdot-lua examples/cors/app.lua        (then see test_app.lua)
local microdot = require("microdot")
local CORS = require("microdot.cors").CORS
local CSRF = require("microdot.csrf").CSRF

local app = microdot.Microdot()
local FRONT_END = os.getenv("FRONT_END") or "http://localhost:3000"

local cors = CORS(app, {
  allowed_origins = {FRONT_END},
  allow_credentials = true,          -- the front end sends cookies
  allowed_headers = {"Content-Type"},
  expose_headers = {"X-Total"},      -- the front end may read this header
  max_age = 600,                     -- browsers may cache a preflight for 10 minutes
})
local csrf = CSRF(app, {cors = cors})   -- trusts FRONT_END's requests too

local todos = {}

app:get("/todos", function(req)
  return microdot.json.array(todos), {["X-Total"] = #todos}
end)

app:post("/todos", function(req)
  local title = req.json and req.json.title
  if type(title) ~= "string" or title == "" then return {error = "title is required"}, 400 end
  todos[#todos + 1] = {id = #todos + 1, title = title}
  return todos[#todos], 201
end)

-- Another service posts here from anywhere: no CSRF check.
app:post("/webhook", csrf:exempt(function(req)
  return {received = true}
end))

return app
