local microdot = require("microdot")
local auth = require("microdot.auth")
local app = microdot.Microdot()
local api = microdot.Microdot()

app:get("/", function(req) return "home" end)
app:route("/items", { "GET", "POST" }, function(req)
  return req.method
end)

local basic = auth.BasicAuth()
basic:authenticate(function(req, user, password) return user == "ada" and password == "x" and user end)
app:get("/secret", basic(function(req)
  return "hi " .. req.g.current_user
end))

local Greeter = setmetatable({}, {
  __call = function(self, req) return "hello" end,
})
app:get("/greet", Greeter)

api:get("/users/<int:id>", function(req, id) return { id = id } end)
api:delete("/users/<int:id>", function(req, id) return nil end)
app:mount(api, "/api")

app:static("/files", "public")
return app
