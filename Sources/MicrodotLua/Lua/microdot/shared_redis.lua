-- microdot.shared under --shared (spec section 21): the same methods as
-- the process's own store (init.lua), kept in Redis so that every process
-- given the same URL shares them. Keys are microdot:shared:<key>, values
-- carry a type prefix (core.shared_encode/decode, SharedValueCodec.swift),
-- TTLs go as PX, incr is one EVAL. Each call suspends only its coroutine
-- (at a script's top level it blocks); a failed call raises an error
-- naming the caller's line, and the next call reconnects.
local core = require("microdot.core")
local redis = require("microdot.redis")
local await = require("microdot.coroutine").await
local check_self = require("microdot.errors").check_self

local type, error, tostring, getmetatable, setmetatable, ipairs, tonumber =
  type, error, tostring, getmetatable, setmetatable, ipairs, tonumber
local math_type, ceil, floor, min, format = math.type, math.ceil, math.floor, math.min, string.format
local co_isyieldable = coroutine.isyieldable
local redis_call, encode, decode = core.redis_call, core.shared_encode, core.shared_decode
local RedisError = redis.RedisError

local PREFIX = "microdot:shared:"

-- Adds amount to the number under KEYS[1] (or ARGV[2], the initial value,
-- when there is none), keeping its TTL. Redis's Lua 5.1 has only doubles:
-- integers are added as two base-1e9 halves, exact over all of int64, and
-- become a float past it, as Lua's own store does.
local INCR = [[
local function split(s)
  local sign = 1
  if string.sub(s, 1, 1) == '-' then sign = -1; s = string.sub(s, 2) end
  local n = #s
  local lo = tonumber(string.sub(s, math.max(1, n - 8)))
  local hi = n > 9 and tonumber(string.sub(s, 1, n - 9)) or 0
  return sign * hi, sign * lo
end
local function number(s)
  local kind, text = string.sub(s, 1, 2), string.sub(s, 3)
  if kind == 'i:' and string.match(text, '^%-?%d+$') then return 'i', text end
  if kind == 'f:' and tonumber(text) then return 'f', text end
end
local current = redis.call('GET', KEYS[1])
if not current then
  if ARGV[2] == '' then return false end
  current = ARGV[2]
end
local ak, a = number(current)
if not ak then return redis.error_reply('not a number') end
local bk, b = number(ARGV[1])
local result
if ak == 'i' and bk == 'i' then
  local ah, al = split(a)
  local bh, bl = split(b)
  local h, l = ah + bh, al + bl
  if l >= 1e9 then h = h + 1; l = l - 1e9 elseif l <= -1e9 then h = h - 1; l = l + 1e9 end
  if h > 0 and l < 0 then h = h - 1; l = l + 1e9 elseif h < 0 and l > 0 then h = h + 1; l = l - 1e9 end
  if h > 9223372036 or (h == 9223372036 and l > 854775807)
    or h < -9223372036 or (h == -9223372036 and l < -854775808) then
    result = 'f:' .. string.format('%.17g', h * 1e9 + l)
  elseif h == 0 then
    result = 'i:' .. string.format('%d', l)
  else
    result = 'i:' .. string.format('%d%09d', h, math.abs(l))
  end
else
  result = 'f:' .. string.format('%.17g', tonumber(a) + tonumber(b))
end
redis.call('SET', KEYS[1], result, 'KEEPTTL')
return result
]]

-- Installs the methods on `Shared` (init.lua's class) for the server
-- core.shared_endpoint() names. Levels: each method raises at its caller
-- (2); a helper is given the level of that caller as seen from itself.
return function(Shared, endpoint, server)
  local function fail(message, level) error("microdot.shared: " .. message, level + 1) end

  -- One command; its reply, error replies (RedisError) included. A call
  -- that gets no reply raises at `level`.
  local function send(level, ...)
    local ticket, problem = redis_call(endpoint, not co_isyieldable(), ...)
    if ticket == nil then fail(problem, level + 1) end
    local ok, reply = await(ticket)
    if not ok then fail("redis " .. server .. ": " .. tostring(reply), level + 1) end
    return reply
  end

  local function command(level, ...)
    local reply = send(level + 1, ...)
    if getmetatable(reply) == RedisError then fail(tostring(reply), level + 1) end
    return reply
  end

  local function check_key(name, key, level)
    if type(key) ~= "string" then error("shared:" .. name .. " expects a string key", level + 1) end
  end

  local function value_of(key, bytes, level)
    if bytes == nil then return nil end
    local value, problem = decode(bytes)
    if problem ~= nil then fail("the value of " .. key .. " in redis " .. server .. " has " .. problem, level + 1) end
    return value
  end

  --- The value under `key`, or nil.
  function Shared:get(key)
    check_self(self, Shared, "microdot.shared", "get", "microdot.shared")
    check_key("get", key, 2)
    local value = value_of(key, command(2, "GET", PREFIX .. key), 2)
    return value
  end

  -- set/add/replace, raising at `level` (from here); forcible is always
  -- false: Redis evicts by its own maxmemory-policy, unseen here.
  local function store(name, key, value, ttl, condition, level)
    check_key(name, key, level + 1)
    local px
    if ttl ~= nil then
      if type(ttl) ~= "number" or ttl ~= ttl or ttl <= 0 then
        error("shared:" .. name .. " expects a positive ttl in seconds", level + 1)
      end
      px = ceil(min(ttl, 1e9) * 1000)
    end
    local full = PREFIX .. key
    if value == nil then
      if name == "set" then
        command(level + 1, "DEL", full)
      elseif name == "add" then
        if command(level + 1, "EXISTS", full) == 1 then return false, "exists", false end
      elseif command(level + 1, "DEL", full) == 0 then
        return false, "not found", false
      end
      return true, nil, false
    end
    local bytes, problem = encode(name, key, value)
    if bytes == false then return false, problem, false end
    if bytes == nil then error(problem, level + 1) end
    local reply
    if px and condition then
      reply = command(level + 1, "SET", full, bytes, "PX", px, condition)
    elseif px then
      reply = command(level + 1, "SET", full, bytes, "PX", px)
    elseif condition then
      reply = command(level + 1, "SET", full, bytes, condition)
    else
      reply = command(level + 1, "SET", full, bytes)
    end
    if reply == nil then return false, condition == "NX" and "exists" or "not found", false end
    return true, nil, false
  end

  function Shared:set(key, value, ttl)
    check_self(self, Shared, "microdot.shared", "set", "microdot.shared")
    local ok, err, forcible = store("set", key, value, ttl, nil, 2)
    return ok, err, forcible
  end
  function Shared:add(key, value, ttl)
    check_self(self, Shared, "microdot.shared", "add", "microdot.shared")
    local ok, err, forcible = store("add", key, value, ttl, "NX", 2)
    return ok, err, forcible
  end
  function Shared:replace(key, value, ttl)
    check_self(self, Shared, "microdot.shared", "replace", "microdot.shared")
    local ok, err, forcible = store("replace", key, value, ttl, "XX", 2)
    return ok, err, forcible
  end

  local function number_text(n)
    if math_type(n) == "integer" then return "i:" .. n end
    return format("f:%.17g", n)
  end

  --- Adds `n` (default 1), starting from `init` when there is no value:
  --- one EVAL, so concurrent calls from every process add up exactly.
  function Shared:incr(key, n, init)
    check_self(self, Shared, "microdot.shared", "incr", "microdot.shared")
    check_key("incr", key, 2)
    if n == nil then n = 1 elseif type(n) ~= "number" then error("shared:incr expects a number to add", 2) end
    if init ~= nil and type(init) ~= "number" then
      error("shared:incr expects a number as the initial value", 2)
    end
    local reply = send(2, "EVAL", INCR, 1, PREFIX .. key, number_text(n), init == nil and "" or number_text(init))
    if getmetatable(reply) == RedisError then
      if tostring(reply.message):find("not a number", 1, true) then
        error("shared:incr: the value of " .. key .. " is not a number", 2)
      end
      fail(tostring(reply), 2)
    end
    if reply == nil then return nil, "not found" end
    local value = value_of(key, reply, 2)
    return value
  end

  function Shared:delete(key)
    check_self(self, Shared, "microdot.shared", "delete", "microdot.shared")
    check_key("delete", key, 2)
    command(2, "DEL", PREFIX .. key)
  end

  --- Up to `max_count` keys (default 1024; 0: all), in SCAN's order.
  function Shared:keys(max_count)
    check_self(self, Shared, "microdot.shared", "keys", "microdot.shared")
    local limit = 1024
    if type(max_count) == "number" then
      if max_count < 0 then error("shared:keys expects a number of keys from 0 (all) up", 2) end
      limit = max_count < 1e9 and floor(max_count) or 0
    elseif max_count ~= nil then
      error("shared:keys expects a number, the most keys to return (0: all)", 2)
    end
    local keys, seen, cursor = setmetatable({}, core.json_array_mt), {}, "0"
    repeat
      local reply = command(2, "SCAN", cursor, "MATCH", PREFIX .. "*", "COUNT", 1000)
      cursor = reply[1]
      for _, full in ipairs(reply[2]) do
        local key = full:sub(#PREFIX + 1)
        if not seen[key] and (limit == 0 or #keys < limit) then
          seen[key] = true
          keys[#keys + 1] = key
        end
      end
    until cursor == "0" or (limit ~= 0 and #keys >= limit)
    return keys
  end

  -- Redis's limit (maxmemory, else --shared-size) and the bytes it uses.
  local function memory()
    local info = command(3, "INFO", "memory")
    local used, most = tonumber(info:match("used_memory:(%d+)")) or 0, tonumber(info:match("maxmemory:(%d+)")) or 0
    return most > 0 and most or (core.shared_space()), used
  end

  --- Redis's maxmemory, or --shared-size when Redis sets no limit.
  function Shared.capacity()
    local most = memory()
    return most
  end

  --- capacity() less what Redis uses, at least 0.
  function Shared.free_space()
    local most, used = memory()
    return most > used and most - used or 0
  end
end
