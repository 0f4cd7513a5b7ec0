-- Case-insensitive header tables (Microdot's NoCaseDict), multi-dicts and
-- URL decoding: the containers requests and responses are made of.
local errors = require("microdot.errors")

local type, next, pairs, ipairs, tonumber, rawget, rawset, setmetatable =
  type, next, pairs, ipairs, tonumber, rawget, rawset, setmetatable
local check_self = errors.check_self
local find, sub, byte = string.find, string.sub, string.byte
local json_array_mt = require("microdot.core").json_array_mt

local M = {}

-- Header tables: keys keep the case they were set with (what goes on the
-- wire); lookups and assignments ignore case.
---@class microdot.NoCaseDict: { [string]: string|string[] }
local Headers = {}
M.Headers = Headers

-- Lower-case forms of header names, so that a lookup does not build new
-- strings each time; bounded, since clients choose request header names.
local lower_cache, lower_cached = {}, 0
local function lower(key)
  local l = lower_cache[key]
  if l == nil then
    l = key:lower()
    if lower_cached >= 4096 then lower_cache, lower_cached = {}, 0 end
    lower_cache[key], lower_cached = l, lower_cached + 1
  end
  return l
end

--- The key under which `t` holds `key`, whatever its case, or nil.
---@param t table
---@param key string
---@return string?
local function header_key(t, key)
  local wanted = lower(key)
  for k in next, t do
    if type(k) == "string" and lower(k) == wanted then return k end
  end
end

Headers.__index = function(t, key)
  if type(key) ~= "string" then return nil end
  local k = header_key(t, key)
  if k ~= nil then return rawget(t, k) end
end

Headers.__newindex = function(t, key, value)
  if type(key) == "string" then
    local k = header_key(t, key)
    if k ~= nil then
      rawset(t, k, value)
      return
    end
  end
  rawset(t, key, value)
end

--- A header table holding `initial`'s entries.
---@param initial? table<string, string|string[]>
---@return microdot.NoCaseDict
local function new_headers(initial)
  local headers = {}
  if initial ~= nil then
    if type(initial) ~= "table" then
      error("headers must be a table, got " .. type(initial), 3)
    end
    -- Filled before the metatable is set, so without metamethod calls;
    -- names that differ only in case still become one header.
    for k, v in pairs(initial) do
      headers[type(k) == "string" and header_key(headers, k) or k] = v
    end
  end
  return setmetatable(headers, Headers)
end
M.header_key = header_key
M.new_headers = new_headers

--- Headers received as `{name, value}` pairs, in a case-insensitive table:
--- a name given more than once maps to an array of its values in order.
---@param pairs_list { [1]: string, [2]: string }[]
---@return table
function M.headers_from_pairs(pairs_list)
  local headers = new_headers()
  for _, pair in ipairs(pairs_list) do
    local name, value = pair[1], pair[2]
    local existing = headers[name]
    if existing == nil then
      headers[name] = value
    elseif type(existing) == "table" then
      existing[#existing + 1] = value
    else
      headers[name] = { existing, value }
    end
  end
  return headers
end

local function hex_byte(h)
  return string.char(tonumber(h, 16))
end

--- `s` with its %XX escapes decoded (a `+` stays a `+`).
---@param s string
---@return string
local function percent_decode(s)
  if find(s, "%", 1, true) == nil then return s end
  return (s:gsub("%%(%x%x)", hex_byte))
end

--- A form or query string value decoded: `+` is a space.
---@param s string
---@return string
local function form_decode(s)
  if s:find("+", 1, true) ~= nil then s = s:gsub("+", " ") end
  return percent_decode(s)
end
M.percent_decode = percent_decode
M.form_decode = form_decode

-- The bytes %s matches: the whitespace strip removes by default.
local space_bytes = { [9] = true, [10] = true, [11] = true, [12] = true, [13] = true, [32] = true }
-- Python's str.strip() whitespace for ASCII text: %s and \x1c-\x1f.
local python_space_bytes = { [28] = true, [29] = true, [30] = true, [31] = true }
for b in pairs(space_bytes) do python_space_bytes[b] = true end
M.python_space_bytes = python_space_bytes

--- `s` without leading and trailing whitespace (the bytes that are keys of
--- `spaces`, default those %s matches), in linear time: a pattern such as
--- `^%s*(.-)%s*$` or `%s+$` retries a run of spaces at every position,
--- quadratic in that run, and runs in C where no hook can stop it.
---@param s string
---@param spaces? table<integer, true>
---@return string
local function strip(s, spaces)
  spaces = spaces or space_bytes
  local first, last = 1, #s
  while spaces[byte(s, first)] do
    first = first + 1
  end
  while last >= first and spaces[byte(s, last)] do
    last = last - 1
  end
  return sub(s, first, last)
end
M.strip = strip

--- The parameters of a header value such as `form-data; name="f";
--- filename="a;b.txt"` or `multipart/form-data; boundary=x`, by lower-case
--- name (the first of each name wins); a quoted value may hold `;`. One
--- forward scan: linear in the value's length.
---@param value string
---@return table<string, string>
local function header_params(value)
  local params = {}
  local position, length = 1, #value
  while position <= length do
    local stop = find(value, "[=;]", position)
    if stop == nil or byte(value, stop) == 59 then -- a bare word, no '='
      position = (stop or length) + 1
    else
      local name = strip(sub(value, position, stop - 1)):lower()
      local start = find(value, "[^ \t]", stop + 1) or length + 1
      local param
      if byte(value, start) == 34 then -- a quoted value ends at the next quote
        local close = find(value, '"', start + 1, true) or length + 1
        param = sub(value, start + 1, close - 1)
        position = (find(value, ";", close + 1, true) or length) + 1
      else
        local semi = find(value, ";", start, true) or length + 1
        param = strip(sub(value, start, semi - 1))
        position = semi + 1
      end
      if params[name] == nil then params[name] = param end
    end
  end
  return params
end
M.header_params = header_params

--- `s` encoded for a query string or form (a space becomes `+`).
---@param s string
---@return string
function M.urlencode(s)
  return (s:gsub("[^%w%-%._~ ]", function(c)
    return string.format("%%%02X", c:byte())
  end):gsub(" ", "+"))
end

-- A multi-dict: `md.key` is the first value; all of them are in getlist().
-- Request data never shadows a method: a key named like one (`?get=1`) is
-- not stored in the table itself, so `md.get` stays the method and the
-- value is read with `md:get("get")` (and shows in pairs()).
---@class microdot.MultiDict: { [string]: any }
local MultiDict = {}
local multidict_lists = setmetatable({}, { __mode = "k" })
MultiDict.__index = MultiDict

--- An empty multi-dict.
---@return microdot.MultiDict
local function new_multidict()
  local md = setmetatable({}, MultiDict)
  multidict_lists[md] = {}
  return md
end

--- Adds a value under `key`, after any it already has.
---@param md microdot.MultiDict
---@param key string
---@param value any
local function multidict_add(md, key, value)
  local lists = multidict_lists[md]
  local list = lists[key]
  if list == nil then
    lists[key] = { value }
    if MultiDict[key] == nil then rawset(md, key, value) end
  else
    list[#list + 1] = value
  end
end

--- The first value under `key`: the table's own entry, or for a key named
--- like a method, the first value added.
local function first_value(md, key)
  if MultiDict[key] == nil then return rawget(md, key) end
  local list = multidict_lists[md][key]
  return list and list[1]
end

-- pairs() also gives the keys named like methods, which are not in the table.
MultiDict.__pairs = function(md)
  local lists = multidict_lists[md]
  local shadowed = false
  return function(_, key)
    if not shadowed then
      local k, v = next(md, key)
      if k ~= nil then return k, v end
      shadowed = true
      key = nil
    end
    repeat
      key = next(lists, key)
    until key == nil or MultiDict[key] ~= nil
    if key ~= nil then return key, lists[key][1] end
  end, md, nil
end

-- `convert` signals a value it cannot convert the Lua way, by returning nil
-- (as tonumber does): the default is used. An error it raises propagates,
-- as in Microdot.
---@param key string
---@param default? any
---@param convert? fun(value: any): any
---@return any
function MultiDict:get(key, default, convert)
  check_self(self, MultiDict, "req.args", "get", "a MultiDict such as req.args or req.form")
  local value = first_value(self, key)
  if value == nil then return default end
  if convert ~= nil then
    local converted = convert(value)
    if converted == nil then return default end
    return converted
  end
  return value
end

--- Every value under `key`, converted (values `convert` rejects are left out).
---@param key string
---@param convert? fun(value: any): any
---@return any[]
function MultiDict:getlist(key, convert)
  check_self(self, MultiDict, "req.args", "getlist", "a MultiDict such as req.args or req.form")
  local list = multidict_lists[self][key]
  -- A list, as in Microdot: JSON `[]` even when empty.
  local out = setmetatable({}, json_array_mt)
  if list == nil then return out end
  for _, value in ipairs(list) do
    if convert ~= nil then
      local converted = convert(value)
      if converted ~= nil then out[#out + 1] = converted end
    else
      out[#out + 1] = value
    end
  end
  return out
end

--- A query string or urlencoded form body as a multi-dict.
---@param s string?
---@return microdot.MultiDict
local function parse_urlencoded(s)
  local md = new_multidict()
  if s == nil or s == "" then return md end
  for pair in s:gmatch("[^&]+") do
    local eq = pair:find("=", 1, true)
    if eq then
      multidict_add(md, form_decode(pair:sub(1, eq - 1)), form_decode(pair:sub(eq + 1)))
    else
      multidict_add(md, form_decode(pair), "")
    end
  end
  return md
end
M.new_multidict = new_multidict
M.multidict_add = multidict_add
M.parse_urlencoded = parse_urlencoded

return M
