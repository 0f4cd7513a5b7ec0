-- multipart/form-data bodies: plain fields and uploaded files.
local datastructures = require("microdot.datastructures")
local errors = require("microdot.errors")
local response = require("microdot.response")

local setmetatable, error = setmetatable, error
local find, sub = string.find, string.sub
local new_multidict, multidict_add = datastructures.new_multidict, datastructures.multidict_add
local strip, header_params = datastructures.strip, datastructures.header_params

local M = {}

--- An uploaded file of a multipart/form-data body.
---@class microdot.FileUpload
---@field filename string
---@field content_type string
---@field content string the bytes
---@field size integer
local FileUpload = {}
FileUpload.__index = FileUpload
FileUpload.__name = "microdot.FileUpload"
M.FileUpload = FileUpload

--- The file's bytes.
---@return string
function FileUpload:read()
  return self.content
end

--- Saves the bytes; a relative path resolves against the script's folder.
---@param path string
function FileUpload:save(path)
  local file, err = io.open(response.resolve_path(path), "wb")
  if file == nil then error(err, 2) end
  file:write(self.content)
  file:close()
end

local function bad_request()
  errors.abort(400, "Bad request")
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
  local boundary = header_params(content_type).boundary
  if boundary == nil or boundary == "" or #boundary > 70 then bad_request() end
  local delimiter = "--" .. boundary
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
    local name, filename, part_type
    for line in body:sub(position + 2, head_end + 1):gmatch("(.-)\r\n") do
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
    local content = body:sub(head_end + 4, next_part - 1)
    if filename ~= nil then
      multidict_add(files, name, setmetatable({
        filename = filename,
        content_type = part_type or "application/octet-stream",
        content = content,
        size = #content,
      }, FileUpload))
    else
      multidict_add(form, name, content)
    end
    position = next_part + 2 + #delimiter
  end
  return form, files
end

return M
