-- A JSON API for notes on PostgreSQL with a Redis cache in front and an
-- outbound HTTP call: each note can be shared to a webhook. Every
-- database, cache and HTTP call suspends only its own request.
--   DATABASE_URL=postgres://app:pw@127.0.0.1:5432/app REDIS_URL=redis://127.0.0.1:6379/0 \
--   WEBHOOK_URL=http://127.0.0.1:8080/hook microdot-lua examples/notes-pg/app.lua
--   curl -X POST localhost:5000/notes -H 'Content-Type: application/json' \
--        -d '{"title": "milk", "tags": ["shopping"]}'
--   curl localhost:5000/notes/1
--   curl -X POST localhost:5000/notes/1/share
local microdot = require("microdot")
local http = require("microdot.http")
local pg = require("microdot.pg")
local redis = require("microdot.redis")
local json = microdot.json

local db = pg.connect(os.getenv("DATABASE_URL") or "postgres://app:pw@127.0.0.1:5432/app",
  {pool_size = 10, timeout = 10})
local cache = redis.connect(os.getenv("REDIS_URL") or "redis://127.0.0.1:6379/0", {pool_size = 10, timeout = 2})
-- How long a note stays in the cache; writes remove it at once.
local CACHE_SECONDS = 60
local webhook = os.getenv("WEBHOOK_URL")

local app = microdot.Microdot()

-- At start-up (the top level blocks until it is done): the table.
db:query([[CREATE TABLE IF NOT EXISTS notes (
  id bigserial PRIMARY KEY,
  title text NOT NULL,
  body text NOT NULL DEFAULT '',
  tags text[] NOT NULL DEFAULT '{}',
  meta jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  shared_status int
)]])

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
-- A database failure is logged with its server and SQLSTATE; the client
-- learns only that the service is unavailable.
app:errorhandler(pg.PostgresError, function(req, err)
  microdot.log.error(tostring(err))
  return {error = "database unavailable"}, 503
end)

local COLUMNS = "id, title, body, tags, meta, created_at, shared_status"

-- tags is text[] in SQL: sent as a JSON array and turned into text[] there.
local function fields(req)
  local data = req.json
  if type(data) ~= "table" then invalid("expected a JSON object") end
  if type(data.title) ~= "string" or data.title == "" then invalid("title must be a non-empty string") end
  if data.body ~= nil and type(data.body) ~= "string" then invalid("body must be a string") end
  local tags = json.array()
  for i, tag in ipairs(data.tags or {}) do
    if type(tag) ~= "string" then invalid("tags must be strings") end
    tags[i] = tag
  end
  if data.meta ~= nil and type(data.meta) ~= "table" then invalid("meta must be an object") end
  return data.title, data.body or "", tags, data.meta or {}
end

local function find(id)
  local rows = db:query("SELECT " .. COLUMNS .. " FROM notes WHERE id = $1", id)
  if rows[1] == nil then microdot.abort(404) end
  return rows[1]
end

app:get("/notes", function(req)
  local tag = req.args.tag
  if tag then
    return (db:query("SELECT " .. COLUMNS .. " FROM notes WHERE $1 = ANY(tags) ORDER BY id", tag))
  end
  return (db:query("SELECT " .. COLUMNS .. " FROM notes ORDER BY id"))
end)

app:post("/notes", function(req)
  local title, body, tags, meta = fields(req)
  local rows = db:query([[INSERT INTO notes (title, body, tags, meta)
    VALUES ($1, $2, ARRAY(SELECT jsonb_array_elements_text($3)), $4) RETURNING ]] .. COLUMNS,
    title, body, tags, meta)
  return rows[1], 201, {Location = "/notes/" .. rows[1].id}
end)

-- The cache holds a note's JSON text under note:<id>. It only speeds
-- things up: when Redis fails, the note comes from the database (logged).
local function cache_call(method, ...)
  local ok, result = pcall(cache[method], cache, ...)
  if not ok then microdot.log.warn("cache: " .. tostring(result)) end
  return ok, result
end

app:get("/notes/<int:id>", function(req, id)
  local reached, text = cache_call("get", "note:" .. id)
  if reached and text then
    return text, 200, {["Content-Type"] = "application/json", ["X-Cache"] = "hit"}
  end
  local note = find(id)
  if reached then cache_call("set", "note:" .. id, json.encode(note), {ex = CACHE_SECONDS}) end
  return note, 200, {["X-Cache"] = "miss"}
end)

app:delete("/notes/<int:id>", function(req, id)
  local _, status = db:query("DELETE FROM notes WHERE id = $1", id)
  cache_call("del", "note:" .. id)
  if status.affected == 0 then microdot.abort(404) end
  return "", 204
end)

-- Posts the note to the webhook and records the answer's status, both in
-- one transaction: a note is marked shared only if the webhook answered.
app:post("/notes/<int:id>/share", function(req, id)
  if not webhook then return {error = "WEBHOOK_URL is not set"}, 501 end
  return db:transaction(function(tx)
    local rows = tx:query("SELECT " .. COLUMNS .. " FROM notes WHERE id = $1 FOR UPDATE", id)
    if rows[1] == nil then microdot.abort(404) end
    local res, err = http.request{method = "POST", url = webhook, json = rows[1], timeout = 5}
    if not res then return {error = err}, 502 end
    tx:query("UPDATE notes SET shared_status = $1 WHERE id = $2", res.status, id)
    cache_call("del", "note:" .. id)
    return {id = id, webhook_status = res.status}
  end)
end)

return app
