-- Routing: URL patterns with typed segments, and finding the route of a
-- request in an app's URL map.
local core = require("microdot.core")
local percent_decode = require("microdot.datastructures").percent_decode

local type, pairs, ipairs, tonumber, error, pcall, setmetatable =
  type, pairs, ipairs, tonumber, error, pcall, setmetatable
local concat = table.concat
local match, find, gsub, char, sub = string.match, string.find, string.gsub, string.char, string.sub
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
-- A path is matched in its routing form (see routing_path), where "%2F" and
-- "%25" are still encoded: a `string` segment never spans an encoded slash.
local builtin_segments = {
  string = { lua = "([^/]+)", regex = "([^/]+)" },
  int = { lua = "(%-?%d+)", regex = "(-?[0-9]+)", parser = function(s) return math_tointeger(tonumber(s)) end },
  path = { lua = "(.+)", regex = "((?s:.+))" },
}
local custom_segments = {}

--- Registers a segment type: `<type_name:name>` then matches the regular
--- expression `pattern` (RE2 syntax, matched in linear time) and gives the
--- value `parser` returns (nil: no match).
---@param type_name string
---@param pattern? string a regular expression (default `[^/]+`)
---@param parser? fun(segment: string): any
function URLPattern.register_type(type_name, pattern, parser)
  if type(type_name) ~= "string" then error("register_type expects a type name", 2) end
  pattern = pattern or "[^/]+"
  local _, groups = core.regex_compile("(" .. pattern .. ")") -- raises on a bad pattern
  custom_segments[type_name] = { regex = "(" .. pattern .. ")", groups = groups, parser = parser }
end

local function lua_escape(s)
  return (s:gsub("%p", "%%%0"))
end

local function regex_escape(s)
  return (s:gsub("[%.%^%$%|%?%*%+%(%)%[%]%{%}\\]", "\\%0"))
end

-- A literal part of a pattern in routing form: a "%" is "%25" there.
local function routing_literal(s)
  return (s:gsub("%%", "%%25"))
end

-- The spec of a `<type:name>` segment: a `re:` expression compiled here,
-- or a registered or built-in type. Errors name the caller of
-- URLPattern.new's caller, as URLPattern.new's own do.
local function segment_spec(url_pattern, type_name)
  if type_name:sub(1, 3) == "re:" then
    local spec = { regex = "(" .. type_name:sub(4) .. ")" }
    local ok, number_or_error, groups = pcall(core.regex_compile, spec.regex)
    if not ok then error("invalid URL pattern " .. url_pattern .. ": " .. tostring(number_or_error), 4) end
    spec.groups = groups
    return spec
  end
  local spec = custom_segments[type_name] or builtin_segments[type_name]
  if spec == nil then error("invalid URL segment type: " .. type_name, 4) end
  return spec
end

--- Compiles a URL pattern; raises on an invalid one. Patterns of `string`
--- and `int` segments with at most one `path` segment become a Lua pattern
--- (linear: each capture stops at a "/" or the end); others (`re:`,
--- registered types, several `path` segments) an RE2 expression, whose
--- matching is linear in the path whatever the pattern.
---@param url_pattern string
---@return microdot.URLPattern
function URLPattern.new(url_pattern)
  if type(url_pattern) ~= "string" then error("a URL pattern must be a string", 3) end
  local segments, lua_parts, regex_parts, uses_regex, paths, group = {}, {}, {}, false, 0, 1
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
      local spec = segment_spec(url_pattern, type_name)
      if spec.lua == nil then uses_regex = true end
      if type_name == "path" then paths = paths + 1 end
      segments[#segments + 1] = { name = name, parser = spec.parser, group = group }
      group = group + (spec.groups or 1)
      lua_parts[#lua_parts + 1] = "/" .. (spec.lua or "")
      regex_parts[#regex_parts + 1] = "/" .. spec.regex
    else
      lua_parts[#lua_parts + 1] = "/" .. lua_escape(routing_literal(segment))
      regex_parts[#regex_parts + 1] = "/" .. regex_escape(routing_literal(segment))
    end
  end
  -- Two `(.+)` in one Lua pattern backtrack polynomially: RE2 instead.
  if paths > 1 then uses_regex = true end
  local self = setmetatable({ url_pattern = url_pattern, segments = segments }, URLPattern)
  if uses_regex then
    self.regex = core.regex_compile("^" .. concat(regex_parts) .. "$")
  else
    self.lua_pattern = "^" .. concat(lua_parts) .. "$"
  end
  self.literal = #segments == 0 and routing_literal("/" .. body) or nil
  return self
end

-- Decodes the captured values, then runs the segments' parsers.
local function convert_args(self, values)
  local segments = self.segments
  for i = 1, #segments do
    local value = values[i]
    if find(value, "%", 1, true) ~= nil then value = percent_decode(value) end
    local parser = segments[i].parser
    if parser ~= nil then
      value = parser(value)
      if value == nil then return nil end
    end
    values[i] = value
  end
  return values
end

local function convert_match(self, first, ...)
  if first == nil then return nil end
  return convert_args(self, { first, ... })
end

-- What a pattern without segments matches with; never changed.
local NO_ARGS = setmetatable({}, { __newindex = function() error("read-only", 2) end })

--- The URL arguments in pattern order, or nil when the path does not match.
--- `path` is in routing form (see routing_path); the arguments are decoded.
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
  local segments, values = self.segments, {}
  for i = 1, #segments do values[i] = captures[segments[i].group] end
  return convert_args(self, values)
end

local function keep_or_decode(hex)
  if hex == "2F" or hex == "2f" or hex == "25" then return nil end
  return char(tonumber(hex, 16))
end

--- A raw request path in routing form: every %XX escape decoded but "%2F"
--- (an encoded slash is data inside its segment, RFC 3986 section 2.2, not
--- a separator) and "%25" (so that what is left decodes unambiguously).
---@param raw string
---@return string
function M.routing_path(raw)
  if find(raw, "%", 1, true) == nil then return raw end
  return (gsub(raw, "%%(%x%x)", keep_or_decode))
end

-- The routing form of a request URL's path (before any "?").
local function url_route_path(url)
  local q = find(url, "?", 1, true)
  if q ~= nil then url = sub(url, 1, q - 1) end
  return M.routing_path(url)
end

local function route_path(req)
  return url_route_path(req.url)
end

-- An app's routes compiled for lookup: for each method, a table whose hash
-- maps each literal path to the index of the first route of that path,
-- and whose array lists the indexes of the other routes, in order.
local function compile(url_map)
  local methods = {}
  for i = 1, #url_map do
    local route = url_map[i]
    local literal = route.pattern.literal
    for method, on in pairs(route.method_set) do
      if on then
        local routes = methods[method]
        if routes == nil then
          routes = {}
          methods[method] = routes
        end
        if literal == nil then
          routes[#routes + 1] = i
        elseif routes[literal] == nil then
          routes[literal] = i
        end
      end
    end
  end
  return { url_map = url_map, size = #url_map, methods = methods }
end

-- By app; remade when its URL map is replaced or grows.
local compiled_maps = setmetatable({}, { __mode = "k" })

--- The route, its URL arguments and the route again; or nil and 404; or nil,
--- 405 and the last route whose pattern matched (its url prefix and subapp
--- apply to the error, as in Microdot). The first route of the method whose
--- pattern matches answers, in the URL map's order as in Microdot: a
--- literal path is found in a hash, but loses to a pattern route added
--- before it. `method` and `url` default to the request's.
---@param app microdot.Microdot
---@param req microdot.Request
---@param method? string
---@param url? string
function M.find_route(app, req, method, url)
  method = method or req.method
  if method == "HEAD" then method = "GET" end
  local path = url or req.url
  if find(path, "[?%%]") ~= nil then path = url_route_path(path) end
  local url_map = app.url_map
  local compiled = compiled_maps[app]
  if compiled == nil or compiled.url_map ~= url_map or compiled.size ~= #url_map then
    compiled = compile(url_map)
    compiled_maps[app] = compiled
  end
  local routes = compiled.methods[method]
  if routes ~= nil then
    local hit = routes[path]
    for j = 1, #routes do
      local i = routes[j]
      if hit ~= nil and i > hit then break end
      local route = url_map[i]
      local args = route.pattern:match(path)
      if args ~= nil then return route, args, route end
    end
    if hit ~= nil then
      local route = url_map[hit]
      return route, NO_ARGS, route
    end
  end
  -- No route of the method: the last route of another decides between
  -- 405 and 404.
  local matched
  for i = 1, #url_map do
    local route = url_map[i]
    if route.pattern:match(path) ~= nil then matched = route end
  end
  if matched ~= nil then return nil, 405, matched end
  return nil, 404
end

--- The Allow header for a request (or a path in routing form): the methods
--- of the routes that match it, in route order, with HEAD when GET is
--- there, and OPTIONS.
---@param app microdot.Microdot
---@param path microdot.Request|string
---@return string
function M.allow_header(app, path)
  if type(path) == "table" then path = route_path(path) end
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
