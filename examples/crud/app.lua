-- A small JSON API over an in-memory store: notes with file attachments.
--   microdot-lua examples/crud/app.lua
--   curl -X POST localhost:5000/notes -H 'Content-Type: application/json' -d '{"title": "milk"}'
--   curl -F file=@photo.jpg localhost:5000/notes/1/attachments
local microdot = require("microdot")
local json = microdot.json
local app = microdot.Microdot()

-- Module-level state lives in one worker's Lua state: run with --workers 1
-- (or keep shared state in microdot.shared) so every request sees it.
local notes, next_id = {}, 1

-- Invalid input is raised as an error of this class and answered with 422.
local ValidationError = {}
ValidationError.__index = ValidationError
local function invalid(message)
  error(setmetatable({message = message}, ValidationError))
end

app:errorhandler(ValidationError, function(req, err)
  return {error = err.message}, 422
end)
app:errorhandler(404, function(req)
  return {error = "not found"}, 404
end)

local function public(note)
  local attachments = json.array()
  for name, file in pairs(note.attachments) do
    attachments[#attachments + 1] = {filename = name, content_type = file.content_type, size = #file.content}
  end
  table.sort(attachments, function(a, b) return a.filename < b.filename end)
  return {id = note.id, title = note.title, body = note.body, tags = note.tags, attachments = attachments}
end

local function find(id)
  local note = notes[id]
  if note == nil then microdot.abort(404) end
  return note
end

-- Checks a JSON body; `partial` allows fields to be missing (PATCH).
local function fields(req, partial)
  local data = req.json
  if type(data) ~= "table" then invalid("expected a JSON object") end
  if not partial or data.title ~= nil then
    if type(data.title) ~= "string" or data.title == "" then invalid("title must be a non-empty string") end
  end
  if data.body ~= nil and type(data.body) ~= "string" then invalid("body must be a string") end
  if data.tags ~= nil then
    if type(data.tags) ~= "table" then invalid("tags must be an array of strings") end
    for _, tag in ipairs(data.tags) do
      if type(tag) ~= "string" then invalid("tags must be an array of strings") end
    end
  end
  return data
end

app:get("/notes", function(req)
  local tag = req.args.tag
  local list = json.array()
  for id = 1, next_id - 1 do
    local note = notes[id]
    if note ~= nil then
      local tagged = tag == nil
      for _, t in ipairs(note.tags) do tagged = tagged or t == tag end
      if tagged then list[#list + 1] = public(note) end
    end
  end
  return list
end)

app:post("/notes", function(req)
  local data = fields(req, false)
  local note = {id = next_id, title = data.title, body = data.body or "",
    tags = json.array(data.tags or {}), attachments = {}}
  notes[note.id] = note
  next_id = next_id + 1
  return public(note), 201, {Location = "/notes/" .. note.id}
end)

app:get("/notes/<int:id>", function(req, id)
  return public(find(id))
end)

app:put("/notes/<int:id>", function(req, id)
  local note, data = find(id), fields(req, false)
  note.title, note.body, note.tags = data.title, data.body or "", json.array(data.tags or {})
  return public(note)
end)

app:patch("/notes/<int:id>", function(req, id)
  local note, data = find(id), fields(req, true)
  if data.title ~= nil then note.title = data.title end
  if data.body ~= nil then note.body = data.body end
  if data.tags ~= nil then note.tags = json.array(data.tags) end
  return public(note)
end)

app:delete("/notes/<int:id>", function(req, id)
  find(id)
  notes[id] = nil
  return 204
end)

-- A form upload: multipart/form-data with one or more `file` parts.
app:post("/notes/<int:id>/attachments", function(req, id)
  local note = find(id)
  local uploads = req.files and req.files:getlist("file") or {}
  if #uploads == 0 then invalid("send the file as a multipart form field named 'file'") end
  local saved = json.array()
  for _, upload in ipairs(uploads) do
    local name = upload.filename:match("[^/\\]+$")
    if name == nil or name == "." or name == ".." then invalid("bad file name") end
    note.attachments[name] = {content_type = upload.content_type, content = upload:read()}
    saved[#saved + 1] = {filename = name, content_type = upload.content_type, size = upload.size}
  end
  return saved, 201
end)

app:get("/notes/<int:id>/attachments/<name>", function(req, id, name)
  local file = find(id).attachments[name]
  if file == nil then microdot.abort(404) end
  return file.content, {["Content-Type"] = file.content_type}
end)

app:run{workers = 1}
return app
