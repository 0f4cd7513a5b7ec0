-- require("microdot.template"): HTML templates with etlua 1.0.3's syntax,
-- behind Microdot 2.7's microdot.jinja.Template API. A template file is
-- compiled once per worker into a Lua chunk named after the file whose
-- lines are the file's lines, so errors read "templates/hello.html:3: ...".
--
--   <%= expr %>   tostring(expr), HTML-escaped     <%- expr %>  raw
--   <% code %>    Lua code                         -%>          drops one newline after the tag
local core = require("microdot.core")
local coroutines = require("microdot.coroutine")
local helpers = require("microdot.helpers")
local response = require("microdot.response")
local check_self = require("microdot.errors").check_self

local type, tostring, error, pcall, load, setmetatable =
  type, tostring, error, pcall, load, setmetatable
local resolve_path = response.resolve_path
local concat, format, sub, find, gsub = table.concat, string.format, string.sub, string.find, string.gsub

local M = {}

--- A compiled template.
---@class microdot.template.Template
---@field name string the name it was created with
---@field path string the file, as errors name it
local Template = {}
Template.__index = Template
Template.__name = "microdot.template.Template"
M.Template = Template

-- The folder templates are read from (as given, and resolved against the
-- script's folder) and the compiled ones by name.
local template_dir = "templates"
local cache = {}

--- Sets up the templates: `template_dir` (default "templates", relative to
--- the script's folder); `enable_async` is accepted and changes nothing
--- (rendering may always suspend).
---@param options? { template_dir?: string, enable_async?: boolean }
function Template.initialize(options)
  options = helpers.check_options("Template.initialize", options,
    { template_dir = "string", enable_async = "boolean" })
  template_dir = (options.template_dir or "templates"):gsub("/+$", "")
  if template_dir == "" then template_dir = "/" end
  cache = {}
end

-- HTML escaping, as etlua's.
local escapes = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#039;" }
local function escape(value)
  return (gsub(tostring(value), "[&<>\"']", escapes))
end
M.escape = escape

-- The end of a long bracket ([[...]], [==[...]==]) opening at `i`, or nil.
local function long_bracket_end(text, i)
  local equals = text:match("^%[(=*)%[", i)
  if equals == nil then return nil end
  local _, close = find(text, "]" .. equals .. "]", i, true)
  return close
end

-- Where scanning goes on after the quoted string opening at `i`.
local function skip_string(text, i)
  local quote, j, n = sub(text, i, i), i + 1, #text
  while j <= n do
    local d = sub(text, j, j)
    if d == quote or d == "\n" then break end
    j = j + (d == "\\" and 2 or 1)
  end
  return j + 1
end

-- A comment ("--") at `i`: where scanning goes on; or nil and the tag's
-- "%>" when that ends a short comment; nil when a long one never ends.
local function skip_comment(text, i)
  if find(text, "^%[=*%[", i + 2) then
    local close = long_bracket_end(text, i + 2)
    return close and close + 1
  end
  local newline = find(text, "\n", i, true)
  local closing = find(text, "%>", i, true)
  if closing ~= nil and (newline == nil or closing < newline) then return nil, closing end
  return newline and newline + 1
end

-- The end of the Lua code of a tag that starts at `i`: the position of
-- its "%>", skipping strings and long comments; nil when it never closes.
-- Also where a final short comment starts (dropped: it would swallow what
-- the compiler puts after the code).
local function scan_code(text, i)
  local n = #text
  while i and i <= n do
    local c = sub(text, i, i)
    if c == "%" and sub(text, i + 1, i + 1) == ">" then return i end
    if c == "\"" or c == "'" then
      i = skip_string(text, i)
    elseif c == "[" and find(text, "^%[=*%[", i) then
      local close = long_bracket_end(text, i)
      i = close and close + 1
    elseif c == "-" and sub(text, i + 1, i + 1) == "-" then
      local after, closing = skip_comment(text, i)
      if closing then return closing, i end
      i = after
    else
      i = i + 1
    end
  end
  return nil
end

local function line_at(text, position)
  local _, count = gsub(sub(text, 1, position - 1), "\n", "")
  return count + 1
end

-- The Lua source of a template: each piece of text becomes a `__w(...)`
-- call written with `%q` (which keeps newlines as newlines), and each
-- tag's code is copied as is, so that the chunk's lines are the file's.
local function compile_source(text, path)
  local out = { "local __w, __e, __t, _ENV = ...; " }
  local position, n = 1, #text
  while position <= n do
    local open = find(text, "<%", position, true)
    local literal = sub(text, position, (open or n + 1) - 1)
    if literal ~= "" then out[#out + 1] = "__w(" .. format("%q", literal) .. ") " end
    if open == nil then break end
    local kind = sub(text, open + 2, open + 2)
    local code_start = open + 2
    if kind == "=" or kind == "-" then
      code_start = code_start + 1
    else
      kind = nil
    end
    local close, comment = scan_code(text, code_start)
    if close == nil then
      error(format("%s:%d: unclosed tag '<%%' (no '%%>' after it)", path, line_at(text, open)), 0)
    end
    local code_end = close - 1
    local trim = false
    if close > code_start and sub(text, close - 1, close - 1) == "-" and (comment == nil or comment > close - 1) then
      trim, code_end = true, close - 2
    end
    local code = sub(text, code_start, code_end)
    if comment ~= nil then
      -- Keep the newlines count; the comment itself holds none.
      code = sub(text, code_start, comment - 1)
    end
    if kind == "=" then
      out[#out + 1] = "__w(__e(" .. code .. ")) "
    elseif kind == "-" then
      out[#out + 1] = "__w(__t(" .. code .. ")) "
    else
      out[#out + 1] = code .. " "
    end
    position = close + 2
    if trim then
      if sub(text, position, position + 1) == "\r\n" then
        position = position + 2
      elseif sub(text, position, position) == "\n" then
        position = position + 1
      end
    end
  end
  return concat(out)
end

--- The Lua source a template's text compiles to (for tools and tests).
---@param text string
---@param path? string the name errors give
---@return string
function M.compile_source(text, path)
  return compile_source(text, path or "template")
end

-- The file of template `name`, or nil and the "not found" message: a
-- missing file, or one outside the template folder.
local function locate(name)
  local shown = template_dir == "/" and "/" .. name or template_dir .. "/" .. name
  local missing = "template not found: " .. shown
  if name == "" or find(name, "\0", 1, true) then return nil, missing end
  local folder = core.realpath(resolve_path(template_dir))
  local file, kind = core.realpath(resolve_path(shown))
  if folder == nil or file == nil or kind ~= "file" then return nil, missing end
  if folder ~= "/" and sub(file, 1, #folder + 1) ~= folder .. "/" then
    return nil, "template outside the template folder " .. template_dir .. ": " .. name
  end
  return file, shown
end

-- The compiled template, or nil, the error and whether it already names
-- its place (a syntax error names the template's file and line).
local function compile(name)
  local file, shown = locate(name)
  if file == nil then return nil, shown, false end
  local handle, reason = io.open(file, "rb")
  if handle == nil then return nil, "template not found: " .. shown .. " (" .. tostring(reason) .. ")", false end
  local text = handle:read("a")
  handle:close()
  local ok, source = pcall(compile_source, text, shown)
  if not ok then return nil, source, true end
  local chunk, message = load(source, "@" .. shown, "t")
  if chunk == nil then return nil, message, true end
  return setmetatable({ name = name, path = shown, file = file, chunk = chunk,
    mtime = core.file_mtime(file) }, Template)
end

--- The template folder as given and as a path (resolved against the
--- script's folder): what `microdot-lua check` compiles.
---@return string given
---@return string path
function M.folder()
  return template_dir, resolve_path(template_dir)
end

--- Compiles template `name` (not cached): nil, or why it does not compile
--- (a syntax error names the template's file:line).
---@param name string
---@return string?
function M.check(name)
  local template, message = compile(name)
  if template == nil then return message end
  return nil
end

local function get(name)
  if type(name) ~= "string" then error("Template expects a template name, got " .. type(name), 3) end
  local template = cache[name]
  if template ~= nil and (not core.reloading() or core.file_mtime(template.file) == template.mtime) then
    return template
  end
  local message, placed
  template, message, placed = compile(name)
  if template == nil then error(message, placed and 0 or 3) end
  cache[name] = template
  return template
end

--- The template `name` (a path under the template folder), compiled on
--- first use and cached; under --reload compiled again when its file
--- changed. A missing file or a syntax error is an error here.
---@param name string
---@return microdot.template.Template
function Template.new(name)
  return get(name)
end

setmetatable(Template, {
  __call = function(_, name) return get(name) end,
})

local globals = _G

-- Runs the chunk with `write` as its output: names resolve in `vars`,
-- then in the globals; assignments stay in the render's own table.
local function run(template, vars, write)
  if vars ~= nil and type(vars) ~= "table" then error("render expects a table of variables", 3) end
  vars = vars or {}
  local env = setmetatable({}, {
    __index = function(_, key)
      local value = vars[key]
      if value == nil then value = globals[key] end
      return value
    end,
  })
  env.include = function(name, include_vars)
    return get(name):render(include_vars or vars)
  end
  template.chunk(write, escape, tostring, env)
end

--- The template's output for `vars`.
---@param vars? table
---@return string
function Template:render(vars)
  check_self(self, Template, "template", "render", "a Template")
  local buffer, count = {}, 0
  run(self, vars, function(piece)
    count = count + 1
    buffer[count] = piece
  end)
  return concat(buffer, "", 1, count)
end

--- The size a generated piece reaches before it is given out.
M.piece_size = 4096

--- A generator (a stream body, section 5 of the contract) giving the output
--- for `vars` in pieces as it is rendered.
---@param vars? table
---@return fun(): string?
function Template:generate(vars)
  check_self(self, Template, "template", "generate", "a Template")
  return coroutines.wrap(function()
    local buffer, count, size = {}, 0, 0
    run(self, vars, function(piece)
      count = count + 1
      buffer[count] = piece
      size = size + #piece
      if size >= M.piece_size then
        local out = concat(buffer, "", 1, count)
        buffer, count, size = {}, 0, 0
        coroutine.yield(out)
      end
    end)
    if count > 0 then coroutine.yield(concat(buffer, "", 1, count)) end
  end)
end

Template.render_async = Template.render
Template.generate_async = Template.generate

return M
