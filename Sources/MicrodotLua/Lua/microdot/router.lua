-- Routing: URL patterns with typed segments, and finding the route of a
-- request in an app's URL map.
local core = require("microdot.core")

local type, ipairs, tonumber, error, setmetatable = type, ipairs, tonumber, error, setmetatable
local concat, unpack = table.concat, table.unpack
local match = string.match
local math_tointeger = math.tointeger

local M = {}

--- A URL pattern such as `/users/<int:id>`; segment types are string (the
--- default), int, path, `re:REGEX`, and those registered with register_type.
---@class microdot.URLPattern
---@field url_pattern string
---@field segments { name: string, parser: (fun(s: string): any)? }[]
local URLPattern = {}
URLPattern.__index = URLPattern
M.URLPattern = URLPattern

-- Segment types that compile to Lua patterns; registered ones use regexes.
local builtin_segments = {
  string = { lua = "([^/]+)", regex = "([^/]+)" },
  int = { lua = "(%-?%d+)", regex = "(-?\\d+)", parser = function(s) return math_tointeger(tonumber(s)) end },
  path = { lua = "(.+)", regex = "(.+)" },
}
local custom_segments = {}

--- Registers a segment type: `<type_name:name>` then matches the regular
--- expression `pattern` and gives the value `parser` returns (nil: no match).
---@param type_name string
---@param pattern? string a regular expression (default `[^/]+`)
---@param parser? fun(segment: string): any
function URLPattern.register_type(type_name, pattern, parser)
  if type(type_name) ~= "string" then error("register_type expects a type name", 2) end
  pattern = pattern or "[^/]+"
  core.regex_compile("(" .. pattern .. ")") -- raises on a bad pattern
  custom_segments[type_name] = { regex = "(" .. pattern .. ")", parser = parser }
end

local function lua_escape(s)
  return (s:gsub("%p", "%%%0"))
end

local function regex_escape(s)
  return (s:gsub("[%.%^%$%|%?%*%+%(%)%[%]%{%}\\]", "\\%0"))
end

--- Compiles a URL pattern; raises on an invalid one.
---@param url_pattern string
---@return microdot.URLPattern
function URLPattern.new(url_pattern)
  if type(url_pattern) ~= "string" then error("a URL pattern must be a string", 3) end
  local segments, lua_parts, regex_parts, uses_regex = {}, {}, {}, false
  local body = url_pattern:gsub("^/+", "")
  for segment in (body .. "/"):gmatch("([^/]*)/") do
    if segment:sub(1, 1) == "<" then
      if segment:sub(-1) ~= ">" then error("invalid URL pattern: " .. url_pattern, 3) end
      local inner = segment:sub(2, -2)
      local type_name, name = inner:match("^(.*):([^:]*)$")
      if type_name == nil then type_name, name = "string", inner end
      if name == "" then error("invalid URL pattern: " .. url_pattern, 3) end
      for _, earlier in ipairs(segments) do
        if earlier.name == name then
          error("invalid URL pattern " .. url_pattern .. ": the argument name \"" .. name
            .. "\" is used twice (give each <...> its own name)", 3)
        end
      end
      local spec
      if type_name:sub(1, 3) == "re:" then
        spec = { regex = "(" .. type_name:sub(4) .. ")" }
        local ok, err = pcall(core.regex_compile, spec.regex)
        if not ok then error("invalid URL pattern " .. url_pattern .. ": " .. tostring(err), 3) end
      else
        spec = custom_segments[type_name] or builtin_segments[type_name]
        if spec == nil then error("invalid URL segment type: " .. type_name, 3) end
      end
      if spec.lua == nil then uses_regex = true end
      segments[#segments + 1] = { name = name, parser = spec.parser }
      lua_parts[#lua_parts + 1] = "/" .. (spec.lua or "")
      regex_parts[#regex_parts + 1] = "/" .. spec.regex
    else
      lua_parts[#lua_parts + 1] = "/" .. lua_escape(segment)
      regex_parts[#regex_parts + 1] = "/" .. regex_escape(segment)
    end
  end
  local self = setmetatable({ url_pattern = url_pattern, segments = segments }, URLPattern)
  if uses_regex then
    self.regex = core.regex_compile("^" .. concat(regex_parts) .. "$")
  else
    self.lua_pattern = "^" .. concat(lua_parts) .. "$"
  end
  self.literal = #segments == 0 and ("/" .. body) or nil
  return self
end

local function convert_args(self, ...)
  local segments = self.segments
  local values = { ... }
  for i = 1, #segments do
    local parser = segments[i].parser
    if parser ~= nil then
      local value = parser(values[i])
      if value == nil then return nil end
      values[i] = value
    end
  end
  return values
end

local function convert_match(self, first, ...)
  if first == nil then return nil end
  return convert_args(self, first, ...)
end

-- What a pattern without segments matches with; never changed.
local NO_ARGS = setmetatable({}, { __newindex = function() error("read-only", 2) end })

--- The URL arguments in pattern order, or nil when the path does not match.
---@param path string
---@return any[]?
function URLPattern:match(path)
  if self.literal ~= nil then
    if path == self.literal then return NO_ARGS end
    return nil
  end
  if self.lua_pattern ~= nil then
    return convert_match(self, match(path, self.lua_pattern))
  end
  local captures = core.regex_match(self.regex, path)
  if captures == nil then return nil end
  return convert_args(self, unpack(captures, 1, #self.segments))
end

--- The route, its URL arguments and the route again; or nil and 404; or nil,
--- 405 and the last route whose pattern matched (its url prefix and subapp
--- apply to the error, as in Microdot).
---@param app microdot.Microdot
---@param req microdot.Request
function M.find_route(app, req)
  local method = req.method
  if method == "HEAD" then method = "GET" end
  local path = req.path
  local matched
  local url_map = app.url_map
  for i = 1, #url_map do
    local route = url_map[i]
    local args = route.pattern:match(path)
    if args ~= nil then
      if route.method_set[method] then
        return route, args, route
      end
      matched = route
    end
  end
  if matched ~= nil then return nil, 405, matched end
  return nil, 404
end

--- The Allow header for `path`: the methods of the routes that match it,
--- in route order, with HEAD when GET is there, and OPTIONS.
---@param app microdot.Microdot
---@param path string
---@return string
function M.allow_header(app, path)
  local allow, seen = {}, {}
  local function add(m)
    if not seen[m] then
      seen[m] = true
      allow[#allow + 1] = m
    end
  end
  for _, route in ipairs(app.url_map) do
    if route.pattern:match(path) ~= nil then
      for _, m in ipairs(route.methods) do add(m) end
    end
  end
  if seen.GET then add("HEAD") end
  add("OPTIONS")
  return concat(allow, ", ")
end

return M
