-- require("microdot.redis"): a Redis client whose calls suspend only the
-- request that makes them (API contract section 17), as OpenResty's
-- cosockets do. The host keeps a pool per worker and endpoint, opened on
-- first use; RESP2 replies are parsed by hiredis's reader (Core+Redis.swift,
-- Redis/). At a script's top level, or where Lua cannot yield, a call
-- blocks the thread instead.
local core = require("microdot.core")
local coroutines = require("microdot.coroutine")
local describe = require("microdot.errors").describe

local type, error, select, pairs, setmetatable, getmetatable, tostring, tonumber, rawget =
  type, error, select, pairs, setmetatable, getmetatable, tostring, tonumber, rawget
local math_type, upper, unpack, pack = math.type, string.upper, table.unpack, table.pack
local co_isyieldable = coroutine.isyieldable
local await = coroutines.await
local redis_call, redis_pipeline, redis_subscribe, redis_take, redis_wait, redis_close, redis_dropped =
  core.redis_call, core.redis_pipeline, core.redis_subscribe, core.redis_take, core.redis_wait,
  core.redis_close, core.redis_dropped

local M = {}

--- A nil inside an array reply: microdot.json.null.
M.null = core.json.null

--- What a failed call raises: the server's error reply, or why there was
--- none (connection refused, timeout after 10 s, connection closed).
---@class redis.RedisError
---@field message string
---@field server string "host:port"
local RedisError = {}
RedisError.__index = RedisError
RedisError.__name = "redis.RedisError"
RedisError.__tostring = function(e)
  return "redis " .. tostring(e.server) .. ": " .. tostring(e.message)
end
--- RedisError(message, server): a new error (to raise, or to compare in tests).
function RedisError.new(message, server)
  return setmetatable({ message = message, server = server }, RedisError)
end
setmetatable(RedisError, { __call = function(_, message, server) return RedisError.new(message, server) end })
M.RedisError = RedisError

core.redis_setup(M.null, RedisError)

local function raise(client, message)
  error(RedisError.new(message, client._server), 0)
end

-- Commands that change a connection's state: a pooled connection must
-- come back as it left. MULTI and the like go in a pipeline, which keeps
-- one connection; subscriptions have their own.
local STATEFUL = {
  MULTI = "pipeline", EXEC = "pipeline", DISCARD = "pipeline", WATCH = "pipeline", UNWATCH = "pipeline",
  SELECT = "url", SUBSCRIBE = "subscribe", PSUBSCRIBE = "subscribe", SSUBSCRIBE = "subscribe",
  UNSUBSCRIBE = "subscribe", PUNSUBSCRIBE = "subscribe", SUNSUBSCRIBE = "subscribe", MONITOR = "never",
  QUIT = "never", RESET = "never", AUTH = "url", HELLO = "never",
}
local ADVICE = {
  pipeline = "send it in r:pipeline(), which keeps one connection",
  url = "the URL sets it for every connection of the pool",
  subscribe = "use r:subscribe(channel, ...), which has a connection of its own",
  never = "it would change a pooled connection for the next caller",
}

local function check_command(name, level, in_pipeline)
  if type(name) ~= "string" then
    error("redis: the command name must be a string, got " .. describe(name), level + 1)
  end
  local kind = STATEFUL[name] or STATEFUL[upper(name)]
  if kind ~= nil and not (in_pipeline and kind == "pipeline") then
    error("redis: " .. upper(name) .. " cannot be sent on its own: " .. ADVICE[kind], level + 1)
  end
end

--- A connection pool's handle: what redis.connect returns.
---@class redis.Redis
local Redis = {}
Redis.__name = "redis.Redis"
M.Redis = Redis
local methods = {}

local function check_client(self, method)
  if getmetatable(self) ~= Redis then
    error("redis: " .. method .. " was called with a dot or on something else: write r:" .. method .. "(...)", 3)
  end
end

-- The call, `level` being where errors in the arguments point.
local function call(self, level, name, ...)
  check_command(name, level, false)
  local blocking = not co_isyieldable()
  local ticket, problem = redis_call(self._id, blocking, name, ...)
  if ticket == nil then error("redis: " .. problem, level) end
  local ok, reply = await(ticket)
  if not ok then raise(self, reply) end
  if getmetatable(reply) == RedisError then error(reply, 0) end
  return reply
end

--- r:call(command, ...): sends one command; arguments are strings or
--- numbers. Returns the reply: status and bulk strings as strings, integers
--- as integers, a null as nil, arrays as arrays (their nulls redis.null).
--- An error reply, or a call that gets no reply, raises a RedisError.
function methods:call(name, ...)
  check_client(self, "call")
  return call(self, 2, name, ...)
end

local function set_arguments(what, key, value, options, level)
  local arguments = { key, value }
  for name, option in pairs(options) do
    if name == "ex" or name == "px" then
      if math_type(option) ~= "integer" or option <= 0 then
        error(what .. ": option '" .. name .. "' must be a positive integer, got " .. describe(option), level + 1)
      end
    elseif name == "nx" or name == "xx" then
      if type(option) ~= "boolean" then
        error(what .. ": option '" .. name .. "' must be a boolean, got " .. describe(option), level + 1)
      end
    else
      error(what .. ": unknown option '" .. tostring(name) .. "'", level + 1)
    end
  end
  if options.ex then arguments[#arguments + 1] = "EX"; arguments[#arguments + 1] = options.ex end
  if options.px then arguments[#arguments + 1] = "PX"; arguments[#arguments + 1] = options.px end
  if options.nx then arguments[#arguments + 1] = "NX" end
  if options.xx then arguments[#arguments + 1] = "XX" end
  return arguments
end

--- r:set(key, value [, {ex = seconds, px = milliseconds, nx = true, xx =
--- true}]): "OK", or nil when nx or xx kept it from being set. Without a
--- table, the arguments after the value go as they are (r:set(k, v, "EX", 10)).
function methods:set(key, value, options, ...)
  check_client(self, "set")
  if options == nil then return call(self, 2, "SET", key, value) end
  if type(options) ~= "table" then return call(self, 2, "SET", key, value, options, ...) end
  return call(self, 2, "SET", unpack(set_arguments("r:set", key, value, options, 2)))
end

local function pairs_to_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

--- r:hgetall(key): the hash as a table, field -> value ({} when missing).
function methods:hgetall(key)
  check_client(self, "hgetall")
  return pairs_to_table(call(self, 3, "HGETALL", key))
end

-- Every other name is a command: r:hset(k, f, v) is r:call("hset", k, f, v).
local commands = {}
function Redis.__index(_, name)
  local method = methods[name] or commands[name]
  if method ~= nil or type(name) ~= "string" then return method end
  method = function(self, ...)
    check_client(self, name)
    return call(self, 2, name, ...)
  end
  commands[name] = method
  return method
end

-- Pipelines --------------------------------------------------------------

--- Calls queued to go together: r:pipeline(), then p:set(...),
--- p:call(...), any command as a method, then p:commit().
---@class redis.Pipeline
local Pipeline = {}
Pipeline.__name = "redis.Pipeline"
M.Pipeline = Pipeline
local pipeline_methods = {}

local function check_pipeline(self, method)
  if getmetatable(self) ~= Pipeline then
    error("redis: " .. method .. " was called with a dot or on something else: write p:" .. method .. "(...)", 3)
  end
end

local function queue(self, level, name, ...)
  check_command(name, level, true)
  local commands_queued = self._commands
  local n = #commands_queued + 1
  local command = pack(name, ...)
  for i = 1, command.n do
    local kind = type(command[i])
    if kind ~= "string" and kind ~= "number" then
      error("redis: argument " .. i .. " must be a string or a number, got " .. describe(command[i]), level)
    end
  end
  command.n = nil
  commands_queued[n] = command
  return self
end

--- p:call(command, ...): queues a command; returns the pipeline.
function pipeline_methods:call(name, ...)
  check_pipeline(self, "call")
  return queue(self, 2, name, ...)
end

function pipeline_methods:set(key, value, options, ...)
  check_pipeline(self, "set")
  if options == nil then return queue(self, 2, "SET", key, value) end
  if type(options) ~= "table" then return queue(self, 2, "SET", key, value, options, ...) end
  return queue(self, 2, "SET", unpack(set_arguments("p:set", key, value, options, 2)))
end

function pipeline_methods:hgetall(key)
  check_pipeline(self, "hgetall")
  queue(self, 3, "HGETALL", key)
  self._tables[#self._commands] = true
  return self
end

--- p:commit(): sends the queued calls on one connection, in one write, and
--- returns their replies in order; an error reply is a RedisError in its
--- slot (not raised). MULTI ... EXEC in it make a transaction. A call that
--- gets no reply raises. The pipeline is empty again afterwards.
function pipeline_methods:commit()
  check_pipeline(self, "commit")
  local queued, tables = self._commands, self._tables
  self._commands, self._tables = {}, {}
  local depth = 0
  for i = 1, #queued do
    local name = upper(queued[i][1])
    if name == "MULTI" then
      depth = depth + 1
      if depth > 1 then error("redis: p:commit: MULTI inside MULTI (command " .. i .. ")", 2) end
    elseif name == "EXEC" or name == "DISCARD" then
      depth = depth - 1
      if depth < 0 then error("redis: p:commit: " .. name .. " without MULTI (command " .. i .. ")", 2) end
    end
  end
  if depth ~= 0 then error("redis: p:commit: MULTI without EXEC or DISCARD", 2) end
  if #queued == 0 then return setmetatable({}, core.json_array_mt) end
  local client = self._client
  local ticket, problem = redis_pipeline(client._id, not co_isyieldable(), queued)
  if ticket == nil then error("redis: " .. problem, 2) end
  local ok, replies = await(ticket)
  if not ok then raise(client, replies) end
  for i in pairs(tables) do
    if getmetatable(replies[i]) ~= RedisError then replies[i] = pairs_to_table(replies[i]) end
  end
  return replies
end

local pipeline_commands = {}
function Pipeline.__index(_, name)
  local method = pipeline_methods[name] or pipeline_commands[name]
  if method ~= nil or type(name) ~= "string" then return method end
  method = function(self, ...)
    check_pipeline(self, name)
    return queue(self, 2, name, ...)
  end
  pipeline_commands[name] = method
  return method
end

--- r:pipeline(): a new, empty pipeline on this client.
function methods:pipeline()
  check_client(self, "pipeline")
  return setmetatable({ _client = self, _commands = {}, _tables = {} }, Pipeline)
end

-- Subscriptions -----------------------------------------------------------

--- r:subscribe(channel, ...)'s result: messages come in on a connection of
--- its own; receive and close as microdot.pubsub's (section 16).
---@class redis.Subscription
---@field dropped integer messages dropped unread (past 1,000 waiting)
local Subscription = {}
Subscription.__name = "redis.Subscription"
M.Subscription = Subscription
local subscription_methods = {}

function Subscription.__index(self, name)
  if name == "dropped" then return redis_dropped(rawget(self, "_id")) end
  return subscription_methods[name]
end

local function check_subscription(self, method)
  if getmetatable(self) ~= Subscription then
    error("redis: " .. method .. " was called with a dot or on something else: write sub:" .. method .. "(...)", 3)
  end
end

--- sub:receive([timeout]): the next message and its channel (strings);
--- nil, "timeout" after `timeout` seconds (default: no limit); nil,
--- "closed" after sub:close(). Raises a RedisError when the connection is
--- lost. One receive waits at a time.
function subscription_methods:receive(timeout)
  check_subscription(self, "receive")
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
    error("redis: sub:receive: the timeout must be a non-negative number of seconds, got " .. describe(timeout), 2)
  end
  if self._waiting then error("redis: sub:receive: another receive is already waiting on this subscription", 2) end
  while true do
    local message, state, why = redis_take(self._id)
    if message ~= nil then return message, state end
    if state == "closed" then return nil, "closed" end
    if state == "failed" then raise(self._client, why) end
    self._waiting = true
    local ok, ready = await(redis_wait(self._id, timeout))
    self._waiting = false
    if not ok then error(ready, 2) end
    if not ready then return nil, "timeout" end
  end
end

--- sub:close(): unsubscribes (closes its connection). A subscription made
--- in a request also closes when the request ends.
function subscription_methods:close()
  check_subscription(self, "close")
  redis_close(self._id)
end

Subscription.__close = function(self) redis_close(rawget(self, "_id")) end
Subscription.__gc = Subscription.__close

--- r:subscribe(channel, ...): subscribes on a new connection (outside the
--- pool) and returns once the server confirmed every channel.
function methods:subscribe(...)
  check_client(self, "subscribe")
  local count = select("#", ...)
  if count == 0 then error("redis: r:subscribe needs at least one channel", 2) end
  for i = 1, count do
    local channel = select(i, ...)
    if type(channel) ~= "string" or #channel == 0 then
      error("redis: r:subscribe: channel " .. i .. " must be a non-empty string, got " .. describe(channel), 2)
    end
  end
  local ok, id = await(redis_subscribe(self._id, not co_isyieldable(), ...))
  if not ok then raise(self, id) end
  return setmetatable({ _id = id, _client = self }, Subscription)
end

-- Connecting --------------------------------------------------------------

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- Raised at connect's caller: bad_url <- parse_url <- connect <- caller
-- (level 4; 5 from host_and_port).
local function bad_url(url, why, level)
  error("redis.connect: " .. why .. " in " .. describe(url)
    .. " (expected redis://[[user]:password@]host[:port][/db])", level or 4)
end

-- "host", "host:port" or "[v6]:port" (level: as bad_url's, one deeper).
local function host_and_port(url, hostport)
  local host, port = hostport:match("^%[([%x:.]+)%]:?(%d*)$")
  if host == nil then host, port = hostport:match("^([^:]*):?(%d*)$") end
  if host == nil and hostport:find(":", 1, true) then bad_url(url, "a port that is not a number", 5) end
  if host == nil or host == "" then bad_url(url, "no host", 5) end
  port = port ~= "" and tonumber(port) or 6379
  if port < 1 or port > 65535 then bad_url(url, "a port out of 1-65535", 5) end
  return host, port
end

local function parse_url(url)
  if type(url) ~= "string" then
    error("redis.connect: the URL must be a string, got " .. describe(url), 3)
  end
  local rest = url:match("^[Rr][Ee][Dd][Ii][Ss]://(.*)$")
  if rest == nil then bad_url(url, "not a redis:// URL") end
  if rest:find("[?#]") then bad_url(url, "a query or fragment") end
  local userinfo, location = rest:match("^(.*)@([^@]*)$")
  location = location or rest
  local user, password
  if userinfo ~= nil then
    user, password = userinfo:match("^([^:]*):(.*)$")
    if user == nil then bad_url(url, "no ':' before the password") end
    user = user ~= "" and unescape(user) or nil
    password = unescape(password)
  end
  local hostport, db = location:match("^([^/]*)/?(.*)$")
  local host, port = host_and_port(url, hostport)
  if db ~= "" and not db:match("^%d+$") then bad_url(url, "a database that is not a number") end
  db = db ~= "" and tonumber(db) or 0
  return host, port, user, password, db
end

local defaults = { pool_size = 10, connect_timeout = 5, timeout = 10 }

--- redis.connect(url [, {pool_size = 10, connect_timeout = 5, timeout =
--- 10}]): a client for the server at `url`
--- (redis://[[user]:password@]host[:port][/db]; AUTH and SELECT are sent on
--- every new connection). Only checks its arguments: each worker opens its
--- connections on first use, at most pool_size; calls beyond wait their
--- turn. Timeouts are seconds; `timeout` bounds each call (waiting for a
--- connection included).
---@return redis.Redis
function M.connect(url, options)
  local host, port, user, password, db = parse_url(url)
  if options ~= nil and type(options) ~= "table" then
    error("redis.connect: options must be a table, got " .. describe(options), 2)
  end
  local settings = {}
  for name, default in pairs(defaults) do settings[name] = default end
  for name, value in pairs(options or {}) do
    if defaults[name] == nil then error("redis.connect: unknown option '" .. tostring(name) .. "'", 2) end
    if name == "pool_size" then
      if math_type(value) ~= "integer" or value < 1 or value > 10000 then
        error("redis.connect: pool_size must be an integer from 1 to 10000, got " .. describe(value), 2)
      end
    elseif type(value) ~= "number" or not (value > 0 and value <= 1000000) then
      error("redis.connect: " .. name .. " must be a number of seconds above 0, got " .. describe(value), 2)
    end
    settings[name] = value
  end
  local id = core.redis_endpoint(host, port, user, password, db, settings.pool_size, settings.connect_timeout,
    settings.timeout)
  local server = host:find(":") and ("[" .. host .. "]:" .. port) or (host .. ":" .. port)
  return setmetatable({ _id = id, _server = server, url = url }, Redis)
end

return M
