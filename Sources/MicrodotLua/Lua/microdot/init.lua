-- require("microdot"): the names scripts use, gathered from the modules that
-- define them (microdot.application, microdot.response, ...). Extensions are
-- modules of their own, loaded as require("microdot.NAME").
local core = require("microdot.core")
local application = require("microdot.application")
local background = require("microdot.background")
local coroutines = require("microdot.coroutine")
local datastructures = require("microdot.datastructures")
local errors = require("microdot.errors")
local log = require("microdot.log")
local multipart = require("microdot.multipart")
local request = require("microdot.request")
local response = require("microdot.response")
local router = require("microdot.router")
local test_client = require("microdot.test_client")
require("microdot.static")

local select = select
local setmetatable = setmetatable
local check_self = errors.check_self

---@class microdot
local M = {}

--- JSON as the host encodes and decodes it; json.null is JSON's null.
---@class microdot.json
---@field encode fun(value: any): string
---@field decode fun(text: string): any
---@field null lightuserdata
M.json = core.json
local json_array_mt = core.json_array_mt

--- Marks a table (a new one when nil) to be encoded as a JSON array.
---@param t? table
---@return table t
function M.json.array(t)
  return setmetatable(t or {}, json_array_mt)
end

--- One store for every worker of the server, kept by the host (OpenResty's
--- lua_shared_dict): keys are byte strings; values are strings, numbers,
--- booleans and tables of those (stored as a copy, as JSON keeps them); the
--- store holds at most --shared-size bytes and `set` evicts the least
--- recently used keys to make room.
---@class microdot.Shared
local Shared = {}
Shared.__index = Shared
Shared.__name = "microdot.shared"

--- The value under `key`, or nil (also once its time to live is over).
---@param key string
---@return any
function Shared:get(key)
  check_self(self, Shared, "microdot.shared", "get", "microdot.shared")
  return core.shared_get(key)
end
--- Stores `value` under `key` (nil deletes it), for `ttl` seconds if given.
--- Returns true, nil, forcible (forcible: keys were evicted to make room),
--- or false, "no memory" for a value bigger than the whole store.
---@param key string
---@param value any
---@param ttl? number
---@return boolean ok
---@return string|nil err
---@return boolean forcible
function Shared:set(key, value, ttl)
  check_self(self, Shared, "microdot.shared", "set", "microdot.shared")
  return core.shared_set(key, value, ttl)
end
--- `set` only when `key` has no value: else false, "exists".
---@param key string
---@param value any
---@param ttl? number
---@return boolean ok
---@return string|nil err
---@return boolean forcible
function Shared:add(key, value, ttl)
  check_self(self, Shared, "microdot.shared", "add", "microdot.shared")
  return core.shared_add(key, value, ttl)
end
--- `set` only when `key` has a value: else false, "not found".
---@param key string
---@param value any
---@param ttl? number
---@return boolean ok
---@return string|nil err
---@return boolean forcible
function Shared:replace(key, value, ttl)
  check_self(self, Shared, "microdot.shared", "replace", "microdot.shared")
  return core.shared_replace(key, value, ttl)
end
--- Adds `n` (default 1) to the number under `key`, starting from `init`
--- (default 0) when there is none; returns the new value.
---@param key string
---@param n? number
---@param init? number
---@return number|nil value
---@return string|nil err
function Shared:incr(key, n, init)
  check_self(self, Shared, "microdot.shared", "incr", "microdot.shared")
  return core.shared_incr(key, n, init)
end
--- Removes `key`.
---@param key string
function Shared:delete(key)
  check_self(self, Shared, "microdot.shared", "delete", "microdot.shared")
  return core.shared_delete(key)
end
--- The keys that have not expired, most recently used first: at most
--- `max_count` (default 1024, as OpenResty; 0 for all).
---@param max_count? integer
---@return string[]
function Shared:keys(max_count)
  check_self(self, Shared, "microdot.shared", "keys", "microdot.shared")
  return core.shared_keys(max_count)
end
-- capacity and free_space take no argument, so a dot works as well: no check.

--- The store's size in bytes (--shared-size).
---@return integer
function Shared:capacity()
  return (core.shared_space())
end
--- Bytes not yet taken by entries.
---@return integer
function Shared:free_space()
  return select(2, core.shared_space())
end

-- Under --shared the same methods go to Redis (microdot/shared_redis.lua).
local shared_endpoint, shared_server = core.shared_endpoint()
if shared_endpoint ~= nil then require("microdot.shared_redis")(Shared, shared_endpoint, shared_server) end

---@type microdot.Shared
M.shared = setmetatable({}, Shared)
--- 1 for the first worker, and so on.
---@type integer
M.worker_id = core.worker_id

M.Microdot = application.new
M.new = application.new

M.Request = request.Request
M.FileUpload = multipart.FileUpload

M.Response = response.Response
M.redirect = response.redirect
M.send_file = response.send_file
M.is_response = response.is_response
M.make_response = response.make_response
M.resolve_path = response.resolve_path

M.URLPattern = router.URLPattern

--- The server's log: microdot.log.info("...") and debug/warn/error.
M.log = log

M.HTTPException = errors.HTTPException
M.abort = errors.abort

M.NoCaseDict = datastructures.new_headers
M.MultiDict = datastructures.new_multidict
M.urlencode = datastructures.urlencode
M.urldecode = datastructures.form_decode

M.sleep = coroutines.sleep

-- Background work: timers, once-per-worker start-up, spawned coroutines.
M.timer = background.timer
M.on_start = background.on_start
M.spawn = background.spawn
-- How the host wraps the starters of async host functions (Core+Modules.swift).
M._async = coroutines.async

M.test_client = test_client.test_client
M.TestResponse = test_client.TestResponse

return M
