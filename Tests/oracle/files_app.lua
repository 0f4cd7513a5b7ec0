-- Files served as nginx serves them (test_files_nginx.py): the folder in
-- MICRODOT_FILES_ROOT under /static/, and send_file with validators the
-- app sets itself.
local microdot = require("microdot")
local app = microdot.Microdot()
local root = assert(os.getenv("MICRODOT_FILES_ROOT"))

app:static("/static", root)

app:get("/tagged", function(req)
  local res = microdot.send_file(root .. "/data.bin")
  res.headers["etag"] = '"v1"'
  return res
end)

app:get("/dated", function(req)
  local res = microdot.send_file(root .. "/data.bin")
  res.headers["Last-Modified"] = "Sun, 06 Nov 1994 08:49:37 GMT"
  return res
end)

app:get("/no-ranges", function(req)
  local res = microdot.send_file(root .. "/data.bin")
  res.headers["Accept-Ranges"] = "none"
  return res
end)

app:get("/missing", function(req)
  return microdot.send_file(root .. "/data.bin", {status_code = 404})
end)

app:post("/posted", function(req)
  return microdot.send_file(root .. "/data.bin")
end)

return app
