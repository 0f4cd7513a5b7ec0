-- What the extensions share: remembering what a wrapper wraps (Python's
-- functools.wraps and __wrapped__, which Microdot's helpers.wraps copies),
-- checking an options table, and marking names for the Vary header.
local type, pairs, tostring, error, getmetatable, setmetatable =
  type, pairs, tostring, error, getmetatable, setmetatable
local concat = table.concat

local M = {}

-- wrapper -> the function it wraps (weak keys: a route that goes away can be
-- collected).
local wrapped_by = setmetatable({}, { __mode = "k" })

--- Records that `wrapper` wraps `wrapped` and returns `wrapper`.
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

--- Whether `v` can be called.
---@param v any
---@return boolean
function M.callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

local function type_ok(kind, value)
  if kind == "any" then return true end
  if kind == "function" then return M.callable(value) end
  return type(value) == kind
end

--- Checks `options` (nil or a table) against `spec` (name -> a type name or
--- an array of them: "boolean", "number", "string", "function", "table",
--- "any"): an unknown name or a wrongly typed value is an error naming
--- `what`, raised at `level` (default 3: the caller of the caller).
---@param what string
---@param options table?
---@param spec table<string, string|string[]>
---@param level? integer
---@return table options never nil
function M.check_options(what, options, spec, level)
  level = level or 3
  if options == nil then return {} end
  if type(options) ~= "table" then
    error(what .. ": options must be a table, got " .. type(options), level)
  end
  for name, value in pairs(options) do
    local wanted = spec[name]
    if wanted == nil then error(what .. ": unknown option '" .. tostring(name) .. "'", level) end
    if type(wanted) == "string" then wanted = { wanted } end
    local ok = false
    for _, kind in pairs(wanted) do
      if type_ok(kind, value) then
        ok = true
        break
      end
    end
    if not ok then
      error(what .. ": option '" .. name .. "' must be " .. concat(wanted, " or ")
        .. ", got " .. type(value), level)
    end
  end
  return options
end

--- Marks `name` for the response's Vary header (`req.g._vary`, a set merged
--- at the end of dispatch; see the common rules of the API contract).
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

return M
