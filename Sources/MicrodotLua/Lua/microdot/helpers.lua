-- What the extensions share: remembering what a wrapper wraps (Python's
-- functools.wraps and __wrapped__, which Microdot's helpers.wraps copies),
-- checking an options table against the names and types it may hold,
-- marking names for the Vary header, and making URI references header-safe.
local type, pairs, tostring, error, getmetatable, setmetatable =
  type, pairs, tostring, error, getmetatable, setmetatable
local byte, sub, find, format, concat = string.byte, string.sub, string.find, string.format, table.concat

local M = {}

-- wrapper -> the function it wraps; weak keys, so routes that go away can
-- be collected.
local wrapped_by = setmetatable({}, { __mode = "k" })

--- Records that `wrapper` wraps `wrapped` (a decorator calls this on the
--- handler it returns), so that `unwraps(wrapper, f)` can see through it.
---@generic F
---@param wrapper F
---@param wrapped function
---@return F wrapper
function M.wraps(wrapper, wrapped)
  wrapped_by[wrapper] = wrapped
  return wrapper
end

--- The function `wrapper` wraps, or nil.
---@param wrapper any
---@return function?
function M.wrapped(wrapper)
  return wrapped_by[wrapper]
end

--- The app's own function behind a route handler: through the wrappers
--- that recorded what they wrap (any depth, up to 100) and a callable
--- table's `__call`. For error messages naming the handler's file:line.
---@param f any
---@return any
function M.innermost(f)
  for _ = 1, 100 do
    local inner = wrapped_by[f]
    if inner == nil and type(f) == "table" then
      local mt = getmetatable(f)
      if type(mt) == "table" and mt.__call ~= nil and mt.__call ~= f then inner = mt.__call end
    end
    if inner == nil then return f end
    f = inner
  end
  return f
end

--- Where the script called the framework from: "file:line" of the first
--- frame outside the framework's modules (`microdot/...`), or nil.
---@return string?
function M.script_location()
  for level = 2, 24 do
    local info = debug.getinfo(level, "Sl")
    if info == nil then return nil end
    if info.currentline > 0 and not info.short_src:find("^microdot/") then
      return info.short_src .. ":" .. info.currentline
    end
  end
end

--- Whether `f`, or a function it wraps (at any depth), is a key of `set`.
---@param f any
---@param set table
---@return boolean
function M.in_chain(f, set)
  local depth = 0
  while f ~= nil and depth < 100 do
    if set[f] then return true end
    f = wrapped_by[f]
    depth = depth + 1
  end
  return false
end

--- Whether `v` can be called.
---@param v any
---@return boolean
function M.callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

local checkers = {
  boolean = function(v) return type(v) == "boolean" end,
  number = function(v) return type(v) == "number" end,
  string = function(v) return type(v) == "string" end,
  ["function"] = M.callable,
  ["string[]"] = function(v)
    if type(v) ~= "table" then return false end
    for k, item in pairs(v) do
      if type(k) ~= "number" or type(item) ~= "string" then return false end
    end
    return true
  end,
}

--- Checks `options` (nil or a table) against `spec` (name -> a type name,
--- or an array of type names: "boolean", "number", "string", "function",
--- "string[]", "table", "any"): an unknown name or a wrongly typed value is
--- an error naming `what` at the caller's caller's line.
---@param what string e.g. "CORS"
---@param options table?
---@param spec table<string, string|string[]>
---@param level? integer error level, default 3
---@return table options never nil
function M.check_options(what, options, spec, level)
  level = level or 3
  if options == nil then return {} end
  if type(options) ~= "table" then
    error(what .. ": options must be a table, got " .. type(options), level)
  end
  for name, value in pairs(options) do
    local wanted = spec[name]
    if wanted == nil then
      error(what .. ": unknown option '" .. tostring(name) .. "'", level)
    end
    if type(wanted) == "string" then wanted = { wanted } end
    local ok = false
    for _, kind in pairs(wanted) do
      local check = checkers[kind]
      if kind == "any" or (check and check(value)) or (not check and type(value) == kind) then
        ok = true
        break
      end
    end
    if not ok then
      local names = {}
      for i, kind in pairs(wanted) do names[i] = kind end
      error(what .. ": option '" .. name .. "' must be " .. table.concat(names, " or ")
        .. ", got " .. type(value), level)
    end
  end
  return options
end

--- Marks `name` for the response's Vary header (merged at the end of
--- dispatch; see the common rules of the API contract).
---@param req microdot.Request
---@param name string
function M.vary(req, name)
  local g = req.g
  local marked = g._vary
  if marked == nil then
    marked = {}
    g._vary = marked
  end
  marked[name] = true
end

-- Bytes a URI-reference holds as they are (RFC 3986 sections 2.2, 2.3):
-- unreserved, gen-delims but "#", "[" and "]" (handled apart), sub-delims.
local URI_BYTES = {}
for c in ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?@!$&'()*+,;="):gmatch(".") do
  URI_BYTES[byte(c)] = true
end

local function escape_byte(b)
  return format("%%%02X", b)
end

--- `s` as a valid URI-reference (RFC 3986 section 4.1), for a `Location`
--- header (RFC 9110 section 10.2.2): bytes a URI cannot hold (space,
--- controls, `"<>\^`{|}`, non-ASCII) are percent-encoded as UTF-8 bytes,
--- `%XX` sequences are kept, a `%` starting none becomes `%25`, a `#` after
--- the first becomes `%23`, and `[` `]` are kept only in an authority
--- (`//host`, where an IPv6 literal needs them).
---@param s string
---@return string
function M.uri_reference(s)
  if not find(s, "[^%w%-%._~:/%?@!%$&'%(%)%*%+,;=]") then return s end
  local _, authority = find(s, "^%a[%w+.-]*://")
  if authority == nil and sub(s, 1, 2) == "//" then authority = 2 end
  local authority_end = 0
  if authority ~= nil then authority_end = (find(s, "[/%?#]", authority + 1) or #s + 1) - 1 end
  local out, hash_seen = {}, false
  for i = 1, #s do
    local b = byte(s, i)
    local piece
    if URI_BYTES[b] then
      piece = sub(s, i, i)
    elseif b == 37 then -- %
      piece = find(s, "^%%%x%x", i) and "%" or "%25"
    elseif b == 35 then -- #
      piece = hash_seen and "%23" or "#"
      hash_seen = true
    elseif (b == 91 or b == 93) and i <= authority_end then -- [ ]
      piece = sub(s, i, i)
    else
      piece = escape_byte(b)
    end
    out[i] = piece
  end
  return concat(out)
end

return M
