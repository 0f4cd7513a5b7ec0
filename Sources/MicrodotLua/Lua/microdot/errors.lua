-- Errors: abort() raises an HTTPException; error classes are metatables, and
-- a class inherits from the table its metatable's __index names. Also how
-- the dispatcher catches and logs what a handler raises.
local core = require("microdot.core")
local helpers = require("microdot.helpers")

local type, tostring, error, xpcall, rawget, setmetatable, getmetatable, ipairs =
  type, tostring, error, xpcall, rawget, setmetatable, getmetatable, ipairs
local math_tointeger = math.tointeger

local M = {}

--- What abort() raises; an error handler registered for a status code answers it.
---@class microdot.HTTPException
---@field status_code integer
---@field reason string
local HTTPException = {}
HTTPException.__index = HTTPException
HTTPException.__tostring = function(e)
  return "HTTPException: " .. tostring(e.status_code)
end
M.HTTPException = HTTPException

--- Stops the request with an HTTP error: raises an HTTPException.
---@param status_code integer
---@param reason? string the body when no error handler answers (default "<status> error")
function M.abort(status_code, reason)
  status_code = math_tointeger(status_code)
  if status_code == nil then error("abort expects an integer status code", 2) end
  error(setmetatable({ status_code = status_code, reason = reason or (status_code .. " error") },
    HTTPException), 0)
end

-- The ancestor of a class: the table its metatable's __index names.
local function parent_class(class)
  local mt = getmetatable(class)
  if type(mt) == "table" then
    local index = rawget(mt, "__index")
    if type(index) == "table" and index ~= class then return index end
  end
end

--- Calls `visit(class, ...)` on the class of the table `value` (its
--- metatable), then on each ancestor, at most 32 deep; returns the first
--- result that is not nil.
---@param value any
---@param visit fun(class: table, ...): any
---@return any
function M.search_classes(value, visit, ...)
  if type(value) ~= "table" then return nil end
  local class = getmetatable(value)
  for _ = 1, 32 do
    if type(class) ~= "table" then return nil end
    local found = visit(class, ...)
    if found ~= nil then return found end
    class = parent_class(class)
  end
end

--- An error caught by xpcall, with the traceback taken where it was raised.
---@class microdot.CaughtError
---@field value any what was raised
---@field traceback string
local CaughtError = {}
M.CaughtError = CaughtError

--- The message handler of the dispatcher's xpcalls.
---@param err any
---@return microdot.HTTPException|microdot.CaughtError
function M.catch(err)
  if getmetatable(err) == HTTPException then return err end
  local message = err
  if type(err) ~= "string" then
    local mt = getmetatable(err)
    if mt ~= nil and mt.__tostring ~= nil then
      message = tostring(err)
    else
      message = "(error object is a " .. type(err) .. " value)"
    end
  end
  return setmetatable({ value = err, traceback = debug.traceback(message, 2) }, CaughtError)
end
local catch = M.catch

--- A value as an error message shows it: `the number 5`, `the string
--- "abc"` (cut after 40 bytes), `a boolean (true)`, `nil`, `a table`.
---@param value any
---@return string
function M.describe(value)
  local kind = type(value)
  if kind == "string" then
    if #value > 40 then value = value:sub(1, 40) .. "..." end
    return "the string " .. ("%q"):format(value):gsub("\\\n", "\\n")
  elseif kind == "number" then
    return "the number " .. tostring(value)
  elseif kind == "boolean" then
    return "a boolean (" .. tostring(value) .. ")"
  elseif kind == "nil" then
    return "nil"
  end
  return "a " .. kind
end

-- Whether `value` is an instance of `class`: its metatable, a metatable
-- whose __index is the class (a session), or a subclass (search_classes).
local function is_instance(value, class)
  local mt = getmetatable(value)
  if mt == class then return true end
  if type(mt) ~= "table" then return false end
  if rawget(mt, "__index") == class then return true end
  return M.search_classes(value, function(c) return c == class or nil end) == true
end

--- The check at the top of a public method: `self` must be an instance of
--- `class`. When it is not, the method was called with a dot
--- (`res.set_cookie("a", "b")`): the error, at the line that called the
--- method, says to use a colon. `receiver` is how scripts usually name the
--- object ("res"), `kind` what it is ("a Response").
---@param self any
---@param class table
---@param receiver string
---@param method string
---@param kind string
function M.check_self(self, class, receiver, method, kind)
  if getmetatable(self) == class or is_instance(self, class) then return end
  error(receiver .. "." .. method .. "(...) was called with a dot: did you mean " .. receiver .. ":" .. method
    .. "(...)? (methods of " .. kind .. " take a colon)", 3)
end

--- Where a function was defined, as "file:line" (nil for a C function).
---@param f any
---@return string?
local function defined_at(f)
  if type(f) ~= "function" then return nil end
  local info = debug.getinfo(f, "S")
  if info.what == "C" then return nil end
  return info.short_src .. ":" .. info.linedefined
end
M.defined_at = defined_at

--- Where the app's own function behind route handler `f` was defined,
--- seen through wrappers (`with_session`, `with_sse`, `login(...)`, auth
--- objects: whatever recorded itself with helpers.wraps) and `__call`.
---@param f any
---@return string?
local function handler_location(f)
  return defined_at(helpers.innermost(f))
end
M.handler_location = handler_location

--- The route serving `req` and its handler, for error messages: "(route
--- /pattern, handler app.lua:12)", or nil before routing.
---@param req microdot.Request
---@return string?
function M.describe_route(req)
  local handler = req.route
  if handler == nil then return nil end
  local pattern
  local app = req.app
  if type(app) == "table" and type(app.url_map) == "table" then
    for _, route in ipairs(app.url_map) do
      if route.handler == handler then
        pattern = route.pattern.url_pattern
        break
      end
    end
  end
  local where = handler_location(handler)
  return "(route " .. (pattern or "?") .. (where and (", handler " .. where) or "") .. ")"
end

--- The request and the route serving it, for error messages: "GET /path
--- (route /pattern, handler app.lua:12)". Only called when something failed.
---@param req microdot.Request
---@return string
function M.describe_request(req)
  local text = tostring(req.method) .. " " .. tostring(req.path)
  local route = M.describe_route(req)
  if route == nil then return text end
  return text .. " " .. route
end

-- A message raised by the framework about what a handler returned names
-- the framework's file (or nothing): name the handler's instead.
local function user_message(message, req)
  if type(message) ~= "string" then return message end
  local handler = req and req.route
  local where = handler_location(handler)
  if where == nil then return message end
  local rest = message:match("^microdot/[%w_]+%.lua:%d+: (.*)$")
  if rest ~= nil then return where .. ": " .. rest end
  if not message:find("^[^\n]-:%d+: ") then return where .. ": " .. message end
  return message
end

--- A caught error's traceback, its message naming the handler of `req`'s
--- route when it names no place of its own (what log_error writes after
--- the request).
---@param caught microdot.CaughtError
---@param req microdot.Request
---@return string
function M.traceback_for(caught, req)
  local text = caught.traceback
  if type(caught.value) == "string" then
    local fixed = user_message(caught.value, req)
    if fixed ~= caught.value then text = fixed .. text:sub(#caught.value + 1) end
  end
  return text
end

--- Logs a caught error as one record: the message (with the route when
--- `req` is given), then the traceback. Memory errors skip the message
--- handler: they arrive as the bare message. `context` says what failed
--- when it was not the route's handler (an error handler's response): it
--- comes before the message, which is then not given the handler's
--- file:line.
---@param caught any
---@param req? microdot.Request
---@param context? string
function M.log_error(caught, req, context)
  local text
  if getmetatable(caught) == CaughtError then
    text = (req ~= nil and context == nil) and M.traceback_for(caught, req) or caught.traceback
  else
    text = tostring(caught)
  end
  if context ~= nil then text = context .. ": " .. text end
  if req ~= nil then text = M.describe_request(req) .. ": " .. text end
  core.log_error(text)
end
local log_error = M.log_error

--- Runs `f` protected; an error is logged (an HTTPException is not) and
--- becomes nil.
---@param f function
---@return any
function M.protected(f, ...)
  local ok, res = xpcall(f, catch, ...)
  if ok then return res end
  if getmetatable(res) ~= HTTPException then log_error(res) end
  return nil
end

--- `protected` for a call about request `req`: a logged error names its route.
---@param req microdot.Request
---@param f function
---@return any
function M.protected_for(req, f, ...)
  local ok, res = xpcall(f, catch, ...)
  if ok then return res end
  if getmetatable(res) ~= HTTPException then log_error(res, req) end
  return nil
end

return M
