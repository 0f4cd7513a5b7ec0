-- Errors: abort() raises an HTTPException; error classes are metatables, and
-- a class inherits from the table its metatable's __index names. Also how
-- the dispatcher catches and logs what a handler raises.
local core = require("microdot.core")

local type, tostring, error, xpcall, rawget, setmetatable, getmetatable =
  type, tostring, error, xpcall, rawget, setmetatable, getmetatable
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

--- Logs a caught error. Memory errors skip the message handler: they arrive
--- as the bare message.
---@param caught any
function M.log_error(caught)
  if getmetatable(caught) == CaughtError then
    core.log_error(caught.traceback)
  else
    core.log_error(tostring(caught))
  end
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

return M
