-- Tests for app.lua with the in-process test client:
--   microdot-lua --test examples/crud/test_app.lua
local microdot = require("microdot")
local app = require("app")
local client = microdot.test_client(app)

local checks = 0
local function check(condition, message)
  checks = checks + 1
  if not condition then error("check failed: " .. message, 2) end
end

-- Create, read, list.
local res = client:post("/notes", {json = {title = "milk", tags = {"shopping"}}})
check(res.status_code == 201, "create answers 201")
check(res.headers["Location"] == "/notes/1", "create gives the Location")
check(res.json.id == 1 and res.json.title == "milk" and res.json.body == "", "created note")
client:post("/notes", {json = {title = "call mum", body = "sunday"}})

res = client:get("/notes/1")
check(res.status_code == 200 and res.json.tags[1] == "shopping", "read a note")
check(#client:get("/notes").json == 2, "list all")
local tagged = client:get("/notes?tag=shopping").json
check(#tagged == 1 and tagged[1].title == "milk", "filter by tag")
check(client:get("/notes?tag=none").text == "[]", "an empty list is a JSON array")

-- Update and partial update.
res = client:put("/notes/2", {json = {title = "call dad"}})
check(res.json.title == "call dad" and res.json.body == "", "PUT replaces")
res = client:patch("/notes/2", {json = {body = "saturday"}})
check(res.json.title == "call dad" and res.json.body == "saturday", "PATCH keeps other fields")

-- Validation errors are 422 with a message; bad JSON is 400.
res = client:post("/notes", {json = {body = "no title"}})
check(res.status_code == 422 and res.json.error == "title must be a non-empty string", "missing title")
res = client:post("/notes", {json = {title = "x", tags = {1, 2}}})
check(res.status_code == 422, "tags must be strings")
res = client:post("/notes", {body = "{not json", headers = {["Content-Type"] = "application/json"}})
check(res.status_code == 400, "malformed JSON")

-- Attachments through a multipart form upload.
local boundary = "----crud"
local body = table.concat({
  "--" .. boundary,
  'Content-Disposition: form-data; name="file"; filename="list.txt"',
  "Content-Type: text/plain",
  "",
  "eggs, bread",
  "--" .. boundary .. "--",
  "",
}, "\r\n")
res = client:post("/notes/1/attachments", {
  body = body, headers = {["Content-Type"] = "multipart/form-data; boundary=" .. boundary},
})
check(res.status_code == 201 and res.json[1].filename == "list.txt" and res.json[1].size == 11, "upload")
res = client:get("/notes/1/attachments/list.txt")
check(res.text == "eggs, bread" and res.headers["Content-Type"] == "text/plain", "download")
check(client:get("/notes/1").json.attachments[1].filename == "list.txt", "the note lists it")
res = client:post("/notes/1/attachments", {body = "x", headers = {["Content-Type"] = "text/plain"}})
check(res.status_code == 422, "an upload without a file")

-- Delete, then 404s.
check(client:delete("/notes/1").status_code == 204, "delete")
res = client:get("/notes/1")
check(res.status_code == 404 and res.json.error == "not found", "gone")
check(client:get("/notes/1/attachments/list.txt").status_code == 404, "its attachments too")
check(client:delete("/notes/99").status_code == 404, "delete a missing note")

print(string.format("crud example: %d checks passed", checks))
