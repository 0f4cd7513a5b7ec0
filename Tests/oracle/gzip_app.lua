-- Responses for test_gzip.py (--gzip, spec section 21): each kind of body
-- and type the rules tell apart. Bodies are made from the query so the
-- test knows what to expect.
local microdot = require("microdot")
local app = microdot.Microdot()
local root = assert(os.getenv("MICRODOT_FILES_ROOT"))

-- n bytes of text that compresses, different each line.
local function text(n)
  local parts, size, i = {}, 0, 0
  while size < n do
    i = i + 1
    local line = "line " .. i .. " of the body, repeated words compress well\n"
    parts[#parts + 1] = line
    size = size + #line
  end
  return table.concat(parts):sub(1, n)
end

local function size(req)
  return tonumber(req.args:get("n") or "1000")
end

app:get("/text", function(req)
  return text(size(req))
end)

app:get("/typed", function(req)
  return text(size(req)), 200, {["Content-Type"] = req.args:get("type")}
end)

app:get("/json", function(req)
  local items = {}
  for i = 1, size(req) do
    items[i] = {id = i, name = "item " .. i}
  end
  return items
end)

app:get("/vary", function(req)
  local value = req.args:getlist("v")
  return text(1000), 200, {Vary = #value == 1 and value[1] or value}
end)

app:get("/marked", function(req)
  req.g._vary = req.g._vary or {}
  req.g._vary.Origin = true
  return text(1000)
end)

app:get("/encoded", function(req)
  return text(1000), 200, {["Content-Encoding"] = "identity"}
end)

app:get("/status", function(req)
  return text(1000), tonumber(req.args:get("code"))
end)

app:get("/stream", function(req)
  local pieces, pause = tonumber(req.args:get("pieces") or "4"), tonumber(req.args:get("pause") or "0")
  local kind = req.args:get("type") or "text/plain"
  return coroutine.wrap(function()
    for i = 1, pieces do
      coroutine.yield("piece " .. i .. ": " .. text(40 * i) .. "\n")
      if pause > 0 then microdot.sleep(pause) end
    end
  end), 200, {["Content-Type"] = kind}
end)

app:get("/file", function(req)
  return microdot.send_file(root .. "/" .. req.args:get("name"))
end)

app:get("/file-tagged", function(req)
  local res = microdot.send_file(root .. "/page.html")
  res.headers.ETag = '"app-tag"'
  return res
end)

return app
