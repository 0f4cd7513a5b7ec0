-- Runaway handlers, memory bombs, errors in every place, and static files.
local microdot = require("microdot")
local app = microdot.Microdot()

app:get("/ok", function(req) return "ok" end)

app:get("/loop", function(req)
  while true do end
end)

-- A runaway that tries to swallow the timeout error.
app:get("/pcall-loop", function(req)
  while true do
    pcall(function() while true do end end)
  end
end)

-- The same, inside a generator that swallows the error.
app:get("/stream-pcall-loop", function(req)
  return coroutine.wrap(function()
    coroutine.yield("first chunk\n")
    while true do
      pcall(function() while true do end end)
    end
  end)
end)

-- Runaways inside a coroutine the handler resumes itself: one that loops,
-- and one that swallows the error in the coroutine and loops on in the
-- handler.
app:get("/coroutine-loop", function(req)
  local co = coroutine.create(function() while true do end end)
  local ok, err = coroutine.resume(co)
  return "resumed: " .. tostring(ok) .. " " .. tostring(err)
end)

app:get("/coroutine-pcall-loop", function(req)
  local co = coroutine.create(function()
    while true do pcall(function() while true do end end) end
  end)
  coroutine.resume(co)
  while true do end
end)

app:get("/bomb", function(req)
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end
  return #t
end)

app:get("/string-bomb", function(req)
  local s = "x"
  while true do s = s .. s end
end)

app:get("/stream-error", function(req)
  return coroutine.wrap(function()
    coroutine.yield("first chunk\n")
    error("the generator broke")
  end)
end)

app:get("/stream-loop", function(req)
  return coroutine.wrap(function()
    coroutine.yield("first chunk\n")
    while true do end
  end)
end)

app:after_request(function(req, res)
  if req.path == "/hook-error" then error("after_request broke") end
end)
app:get("/hook-error", function(req) return "never sent" end)

app:errorhandler(418, function(req) error("the error handler broke") end)
app:get("/handler-error", function(req) microdot.abort(418) end)

app:get("/json-error", function(req) return {bad = function() end} end)

app:static("/files", "public", {max_age = 60})

return app
