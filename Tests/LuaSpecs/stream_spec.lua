-- Large request bodies (lua-api section 19) through microdot.test_client:
-- a body over max_body_length streams (req.body "", req.stream reads it),
-- a chunked one once it grows past it, multipart files spool to temp files.
local microdot = require("microdot")
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq
local Request, FileUpload = microdot.Request, microdot.FileUpload

local saved = {
  content = Request.max_content_length, body = Request.max_body_length,
  readline = Request.max_readline, memory = FileUpload.max_memory_size,
}
local function limits(body, content)
  Request.max_body_length, Request.max_content_length = body, content
end
local function restore()
  Request.max_content_length, Request.max_body_length = saved.content, saved.body
  Request.max_readline, FileUpload.max_memory_size = saved.readline, saved.memory
end

local function exists(path)
  local file = io.open(path, "rb")
  if file == nil then return false end
  file:close()
  return true
end

local app = microdot.Microdot()
app:post("/read", function(req)
  local pieces = {}
  local n = tonumber(req.args.n)
  while true do
    local piece = req.stream:read(n)
    if piece == nil then break end
    pieces[#pieces + 1] = piece
  end
  return {body = req.body, content_length = req.content_length or "nil", pieces = pieces}
end)
app:post("/all", function(req)
  return {first = req.stream:read(), again = req.stream:read() or "nil"}
end)
app:post("/lines", function(req)
  local lines = {}
  for line in function() return req.stream:readline() end do lines[#lines + 1] = line end
  return {lines = lines}
end)
app:post("/exactly/<int:n>", function(req, n)
  local ok, err = pcall(req.stream.readexactly, req.stream, n)
  return {ok = ok, value = ok and err or tostring(err)}
end)
app:post("/json", function(req) return {json = req.json, body = req.body} end)
app:post("/form", function(req) return {name = req.form.name, tags = req.form:getlist("tag")} end)
local spooled
app:post("/upload", function(req)
  local file = req.files.file
  spooled = rawget(file, "_path")
  local result = {
    title = req.form.title, filename = file.filename, content_type = file.content_type, size = file.size,
    head = file:read(5), spooled = spooled ~= nil, temp_exists = spooled ~= nil and exists(spooled),
    content_size = #file.content,
  }
  if req.args.save then
    file:save(req.args.save)
    result.saved = true
  end
  return result
end)
app:post("/bad-count", function(req) return req.stream:read(0) end)
app:errorhandler(413, function(req) return "custom 413", 413 end)

local client = microdot.test_client(app)

local function pieces_of(s, size)
  local chunks = {}
  for i = 1, #s, size do chunks[#chunks + 1] = s:sub(i, i + size - 1) end
  local i = 0
  return function()
    i = i + 1
    return chunks[i]
  end
end

describe("a body over max_body_length", function()
  it("is not read before the route: req.body is empty, req.stream reads it (Microdot's test_large_payload)", function()
    limits(16, 32)
    local res = client:post("/read", {body = "foo=bar&abc=def&x=y"})
    restore()
    eq(res.status_code, 200)
    eq(res.json.body, "", "req.body")
    eq(res.json.content_length, 19)
    eq(table.concat(res.json.pieces), "foo=bar&abc=def&x=y")
  end)
  it("gives at most n bytes a read", function()
    limits(16, 1000)
    local res = client:post("/read?n=7", {body = string.rep("a", 20)})
    restore()
    eq(res.json.pieces, {"aaaaaaa", "aaaaaaa", "aaaaaa"})
  end)
  it("read() gives the rest, then nil", function()
    limits(4, 1000)
    local res = client:post("/all", {body = "0123456789"})
    restore()
    eq(res.json, {first = "0123456789", again = "nil"})
  end)
  it("over max_content_length is a 413 through the app's handler", function()
    limits(16, 32)
    local res = client:post("/read", {body = string.rep("x", 33)})
    restore()
    eq(res.status_code, 413)
    eq(res.text, "custom 413")
  end)
  it("is read whole by req.json and urlencoded req.form", function()
    limits(4, 1000)
    local json = client:post("/json", {json = {a = {1, 2}}})
    local form = client:post("/form", {
      body = "name=Ada&tag=a&tag=b", headers = {["Content-Type"] = "application/x-www-form-urlencoded"},
    })
    restore()
    eq(json.json, {json = {a = {1, 2}}, body = ""})
    eq(form.json, {name = "Ada", tags = {"a", "b"}})
  end)
end)

describe("a body read whole", function()
  it("is what req.stream reads", function()
    local res = client:post("/read?n=4", {body = "abcdefghij"})
    eq(res.json.body, "abcdefghij")
    eq(res.json.pieces, {"abcd", "efgh", "ij"})
  end)
  it("gives nil at once when empty", function()
    eq(client:post("/all").json, {again = "nil"})
  end)
end)

describe("req.stream", function()
  it("readline splits on \\n, the last line without it", function()
    limits(4, 1000)
    local res = client:post("/lines", {body = pieces_of("one\ntwo\n\nthree", 3)})
    restore()
    eq(res.json.lines, {"one\n", "two\n", "\n", "three"})
  end)
  it("readline refuses a line over max_readline", function()
    limits(4, 100000)
    Request.max_readline = 10
    local res = client:post("/lines", {body = string.rep("z", 50) .. "\n"})
    restore()
    eq(res.status_code, 500)
  end)
  it("readexactly gathers across chunks, and fails when the body ends first", function()
    limits(4, 1000)
    local whole = client:post("/exactly/9", {body = pieces_of("abcdefghijkl", 2)})
    local short = client:post("/exactly/20", {body = "abcdefghijkl"})
    restore()
    eq(whole.json, {ok = true, value = "abcdefghi"})
    eq(short.json.ok, false)
    assert(short.json.value:find("the body ended after 12 of the 20 bytes", 1, true), short.json.value)
  end)
  it("refuses a count that is not a positive integer", function()
    local res = client:post("/bad-count", {body = "x"})
    eq(res.status_code, 500)
  end)
end)

describe("a chunked body", function()
  it("read whole while within max_body_length", function()
    local res = client:post("/read", {body = pieces_of("abcdef", 2)})
    eq(res.json.body, "abcdef")
    eq(res.json.content_length, 6)
  end)
  it("streams once it grows past max_body_length, content_length nil", function()
    limits(5, 1000)
    local res = client:post("/read?n=100", {body = pieces_of("abcdefghij", 3)})
    restore()
    eq(res.json.body, "")
    eq(res.json.content_length, "nil")
    eq(table.concat(res.json.pieces), "abcdefghij")
  end)
  it("past max_content_length mid-stream: the read raises 413", function()
    limits(4, 10)
    local res = client:post("/read?n=100", {body = pieces_of(string.rep("y", 30), 3)})
    restore()
    eq(res.status_code, 413)
    eq(res.text, "custom 413")
  end)
end)

local function multipart(file_content)
  return "--xyz\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n"
    .. "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.bin\"\r\n"
    .. "Content-Type: application/octet-stream\r\n\r\n" .. file_content .. "\r\n--xyz--\r\n"
end
local MULTIPART = {["Content-Type"] = "multipart/form-data; boundary=xyz"}

describe("a streamed multipart body", function()
  it("keeps a small file in memory", function()
    limits(16, 100000)
    local res = client:post("/upload", {body = multipart("hello, world"), headers = MULTIPART})
    restore()
    eq(res.json, {
      title = "holiday", filename = "notes.bin", content_type = "application/octet-stream", size = 12,
      head = "hello", spooled = false, temp_exists = false, content_size = 12,
    })
  end)
  it("spools a file over FileUpload.max_memory_size to a temp file, removed when the request ends", function()
    limits(16, 1000000)
    FileUpload.max_memory_size = 1000
    local content = string.rep("0123456789\r\n--xy", 1000)
    local res = client:post("/upload", {body = pieces_of(multipart(content), 777), headers = MULTIPART})
    restore()
    eq(res.status_code, 200)
    eq(res.json.size, #content)
    eq(res.json.content_size, #content)
    eq(res.json.head, "01234")
    eq(res.json.spooled, true)
    eq(res.json.temp_exists, true)
    assert(not exists(spooled), "the temp file is left: " .. tostring(spooled))
  end)
  it("saves a spooled file where asked", function()
    limits(16, 1000000)
    FileUpload.max_memory_size = 100
    local target = os.tmpname()
    local content = string.rep("abc", 1000)
    local res = client:post("/upload?save=" .. target, {body = multipart(content), headers = MULTIPART})
    restore()
    eq(res.json.saved, true)
    local file = assert(io.open(target, "rb"))
    eq(file:read("a"), content, "the saved file")
    file:close()
    os.remove(target)
    assert(not exists(spooled), "the temp file is left")
  end)
  it("answers 400 to a body cut short", function()
    limits(16, 100000)
    local res = client:post("/upload", {body = multipart("abc"):sub(1, -12), headers = MULTIPART})
    restore()
    eq(res.status_code, 400)
  end)
end)

runner.run()
