-- multipart/form-data bodies: plain fields and uploaded files, from a body
-- read whole or from one that streams (Microdot 2.7's FormDataIter and
-- FileUpload.copy: large files go to a temp file as they arrive).
local core = require("microdot.core")
local datastructures = require("microdot.datastructures")
local errors = require("microdot.errors")
local response = require("microdot.response")

local setmetatable, error, rawget, rawset, tostring = setmetatable, error, rawget, rawset, tostring
local find, sub = string.find, string.sub
local concat = table.concat
local io_open = io.open
local math_tointeger = math.tointeger
local new_multidict, multidict_add = datastructures.new_multidict, datastructures.multidict_add
local strip, header_params = datastructures.strip, datastructures.header_params
local check_self = errors.check_self

local M = {}

--- An uploaded file of a multipart/form-data body: its bytes in memory, or
--- (a large file of a streamed body) in a temp file removed when the
--- request ends.
---@class microdot.FileUpload
---@field filename string
---@field content_type string
---@field content string the bytes (a spooled file is read whole)
---@field size integer
---@field max_memory_size integer the largest file a streamed body keeps in memory (class field)
local FileUpload = {}
FileUpload.__name = "microdot.FileUpload"
FileUpload.max_memory_size = 1024 * 1024
M.FileUpload = FileUpload

FileUpload.__index = function(upload, key)
  if key == "content" then
    local file = io_open(rawget(upload, "_path"), "rb")
    if file == nil then return nil end
    local content = file:read("a")
    file:close()
    rawset(upload, "content", content)
    return content
  end
  return FileUpload[key]
end

--- The next `n` bytes (nil at the end), or without `n` the rest ("" at
--- the end), as Lua's file:read(n) and file:read("a").
---@param n? integer
---@return string?
function FileUpload:read(n)
  check_self(self, FileUpload, "file", "read", "a FileUpload")
  if n ~= nil then
    n = math_tointeger(n)
    if n == nil or n < 1 then error("file:read expects a positive integer number of bytes", 2) end
  end
  local file = rawget(self, "_file")
  if file ~= nil then return file:read(n or "a") end
  local content, position = self.content, rawget(self, "_position") or 1
  if n == nil then
    self._position = #content + 1
    return sub(content, position)
  end
  if position > #content then return nil end
  local bytes = sub(content, position, position + n - 1)
  self._position = position + #bytes
  return bytes
end

local function copy_file(from, to)
  local source, err = io_open(from, "rb")
  if source == nil then return nil, err end
  local target
  target, err = io_open(to, "wb")
  if target == nil then
    source:close()
    return nil, err
  end
  while true do
    local bytes = source:read(65536)
    if bytes == nil then break end
    local ok, write_err = target:write(bytes)
    if not ok then
      source:close()
      target:close()
      return nil, write_err
    end
  end
  source:close()
  target:close()
  return true
end

--- Saves the whole file to `path` (relative to the script's folder); a
--- spooled file is moved there when it can be (a rename), else copied.
---@param path string
function FileUpload:save(path)
  check_self(self, FileUpload, "file", "save", "a FileUpload")
  if type(path) ~= "string" then error("file:save expects a path, got " .. type(path), 2) end
  local target = response.resolve_path(path)
  local spooled = rawget(self, "_path")
  if spooled == nil then
    local file, err = io_open(target, "wb")
    if file == nil then error(err, 2) end
    file:write(self.content)
    file:close()
    return
  end
  if rawget(self, "_ticket") ~= nil then
    local ok, err, cross_device = core.temp_rename(self._ticket, spooled, target)
    if ok then
      self._path, self._ticket = target, nil
      return
    end
    if not cross_device then error(err, 2) end
  end
  local ok, err = copy_file(spooled, target)
  if not ok then error(err, 2) end
end

local function bad_request()
  errors.abort(400, "Bad request")
end

-- The name, filename and type of a part, from its header block (lines
-- ending in CRLF).
local function part_headers(block)
  local name, filename, part_type
  for line in block:gmatch("(.-)\r\n") do
    local colon = find(line, ":", 1, true)
    local header = colon and strip(sub(line, 1, colon - 1)):lower()
    if header == "content-disposition" then
      local params = header_params(sub(line, colon + 1))
      name, filename = params.name, params.filename
    elseif header == "content-type" then
      part_type = strip(sub(line, colon + 1))
    end
  end
  if name == nil then bad_request() end
  return name, filename, part_type or "application/octet-stream"
end

local function delimiter_of(content_type)
  local boundary = header_params(content_type).boundary
  if boundary == nil or boundary == "" or #boundary > 70 then bad_request() end
  return "--" .. boundary
end

-- Splits a multipart/form-data body: plain fields and file parts. Every
-- step is a plain find moving forward or a split of one header line, so the
-- work is linear in the body (the boundary is at most 70 bytes, RFC 2046
-- section 5.1.1, which bounds each plain search's retries).
---@param content_type string the request's Content-Type
---@param body string
---@return microdot.MultiDict form
---@return microdot.MultiDict files
function M.parse(content_type, body)
  local delimiter = delimiter_of(content_type)
  local form, files = new_multidict(), new_multidict()
  local start, finish = body:find(delimiter, 1, true)
  if start == nil then bad_request() end
  local position = finish + 1
  while body:sub(position, position + 1) ~= "--" do
    if body:sub(position, position + 1) ~= "\r\n" then bad_request() end
    local head_end = body:find("\r\n\r\n", position + 2, true)
    if head_end == nil then bad_request() end
    local next_part = body:find("\r\n" .. delimiter, head_end + 4, true)
    if next_part == nil then bad_request() end
    local name, filename, part_type = part_headers(body:sub(position + 2, head_end + 1))
    local content = body:sub(head_end + 4, next_part - 1)
    if filename ~= nil then
      multidict_add(files, name, setmetatable({
        filename = filename, content_type = part_type, content = content, size = #content,
      }, FileUpload))
    else
      multidict_add(form, name, content)
    end
    position = next_part + 2 + #delimiter
  end
  return form, files
end

-- How much of a streamed body is asked for at a time, and the most a part's
-- header block may hold.
local READ_SIZE = 64 * 1024
local MAX_PART_HEAD = 64 * 1024

-- Where a part's bytes go as they arrive: a field's to memory, a file's to
-- memory until it passes FileUpload.max_memory_size, then to a temp file.
local function new_sink(is_file, ticket)
  local parts, size, file, path = {}, 0, nil, nil
  local sink = {}
  function sink.write(bytes)
    if bytes == "" then return end
    size = size + #bytes
    if file ~= nil then
      local ok, err = file:write(bytes)
      if not ok then error("cannot spool an upload: " .. tostring(err), 0) end
      return
    end
    parts[#parts + 1] = bytes
    if is_file and size > FileUpload.max_memory_size then
      local err
      path, err = core.temp_file(ticket)
      if path == nil then error(err, 0) end
      file, err = io_open(path, "w+b")
      if file == nil then error("cannot spool an upload: " .. tostring(err), 0) end
      sink.write_all(parts)
      parts = nil
    end
  end
  function sink.write_all(pieces)
    for i = 1, #pieces do
      local ok, err = file:write(pieces[i])
      if not ok then error("cannot spool an upload: " .. tostring(err), 0) end
    end
  end
  function sink.finish()
    if file == nil then return concat(parts), size end
    file:flush()
    file:seek("set", 0)
    return nil, size, file, path
  end
  return sink
end

--- Parses a streamed multipart/form-data body as it arrives from
--- `stream` (req.stream): the same results as `parse`, with files over
--- FileUpload.max_memory_size spooled to temp files (their handles are
--- added to `uploads`, to be closed when the request ends). Linear in the
--- body: each read is searched once, past a tail shorter than the
--- delimiter.
---@param content_type string
---@param stream microdot.RequestStream
---@param ticket integer the host's handle on the body
---@param uploads file*[]
---@return microdot.MultiDict form
---@return microdot.MultiDict files
function M.parse_stream(content_type, stream, ticket, uploads)
  local delimiter = delimiter_of(content_type)
  local separator = "\r\n" .. delimiter
  local keep = #separator - 1
  local form, files = new_multidict(), new_multidict()
  local buf = ""
  local function more()
    local bytes = stream:read(READ_SIZE)
    if bytes == nil then bad_request() end
    buf = buf .. bytes
  end
  -- The preamble, up to the first delimiter, is dropped as it comes.
  while true do
    local _, finish = find(buf, delimiter, 1, true)
    if finish ~= nil then
      buf = sub(buf, finish + 1)
      break
    end
    if #buf > keep then buf = sub(buf, #buf - keep + 1) end
    more()
  end
  while true do
    while #buf < 2 do more() end
    local after = sub(buf, 1, 2)
    if after == "--" then break end
    if after ~= "\r\n" then bad_request() end
    local head_end
    local from = 3
    while true do
      head_end = find(buf, "\r\n\r\n", from, true)
      if head_end ~= nil then break end
      if #buf > MAX_PART_HEAD then bad_request() end
      from = #buf > 5 and #buf - 2 or 3
      more()
    end
    local name, filename, part_type = part_headers(sub(buf, 3, head_end + 1))
    buf = sub(buf, head_end + 4)
    local sink = new_sink(filename ~= nil, ticket)
    while true do
      local at = find(buf, separator, 1, true)
      if at ~= nil then
        sink.write(sub(buf, 1, at - 1))
        buf = sub(buf, at + #separator)
        break
      end
      if #buf > keep then
        sink.write(sub(buf, 1, #buf - keep))
        buf = sub(buf, #buf - keep + 1)
      end
      more()
    end
    local content, size, file, path = sink.finish()
    if filename == nil then
      multidict_add(form, name, content)
    elseif file == nil then
      multidict_add(files, name, setmetatable({
        filename = filename, content_type = part_type, content = content, size = size,
      }, FileUpload))
    else
      uploads[#uploads + 1] = file
      multidict_add(files, name, setmetatable({
        filename = filename, content_type = part_type, size = size, _file = file, _path = path, _ticket = ticket,
      }, FileUpload))
    end
  end
  return form, files
end

return M
