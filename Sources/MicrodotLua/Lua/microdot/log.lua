-- microdot.log: Lua's way into the server's log (swift-log). Each record
-- carries the worker's id, the request's id while a request runs, and the
-- file:line that logged it, as metadata.
local core = require("microdot.core")

local select, tostring, concat = select, tostring, table.concat
local getinfo = debug.getinfo
local log = core.log

local M = {}

local function message(...)
  local n = select("#", ...)
  if n == 1 then return tostring((...)) end
  local parts = { ... }
  for i = 1, n do parts[i] = tostring(parts[i]) end
  return concat(parts, " ")
end

local function caller(level)
  local info = getinfo(level, "Sl")
  if info == nil or info.currentline < 0 then return nil end
  return info.short_src .. ":" .. info.currentline
end

--- Logs at debug level (shown when the host's logger is set to debug).
---@param ... any joined with spaces, each through tostring
function M.debug(...) log("debug", message(...), caller(3)) end
--- Logs at info level.
---@param ... any joined with spaces, each through tostring
function M.info(...) log("info", message(...), caller(3)) end
--- Logs at warning level.
---@param ... any joined with spaces, each through tostring
function M.warn(...) log("warning", message(...), caller(3)) end
--- Logs at error level.
---@param ... any joined with spaces, each through tostring
function M.error(...) log("error", message(...), caller(3)) end

local original_print = print

--- Sends `print` to the log at info level (`on` true, the default) or back
--- to standard output (`on` false). Off until called: `print` writes to
--- standard output, as in Lua and Python.
---@param on? boolean
function M.capture_print(on)
  if on == false then
    _G.print = original_print
    return
  end
  _G.print = function(...)
    local n = select("#", ...)
    local parts = { ... }
    for i = 1, n do parts[i] = tostring(parts[i]) end
    log("info", concat(parts, "\t", 1, n), caller(3))
  end
end

return M
