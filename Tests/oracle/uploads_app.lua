-- Large uploads (lua-api section 19), for test_uploads.py: a body read as
-- it arrives, a multipart file spooled and saved, curl -T.
local microdot = require("microdot")
microdot.Request.max_content_length = 2 * 1024 * 1024 * 1024
microdot.Request.max_body_length = 1024 * 1024
local app = microdot.Microdot()

app:post("/count", function(req)
  local total = 0
  while true do
    local chunk = req.stream:read(65536)
    if chunk == nil then break end
    total = total + #chunk
  end
  return {size = total}
end)

app:get("/ping", function(req) return "pong" end)

app:post("/upload", function(req)
  local file = req.files.file
  file:save(req.args.target)
  return {title = req.form.title, filename = file.filename, size = file.size}
end)

app:put("/put/<name>", function(req, name)
  local data = req.stream:read() or ""
  return {name = name, size = #data, body = #req.body, streamed = req.body == "" and #data > 0}
end)

return app
