-- Coroutines that can suspend a request from any depth. A suspension raised
-- inside a nested coroutine (a generator, a wrapped function) is passed up
-- to the host and the answer passed back down, so that microdot.sleep and
-- async host functions work wherever they are called. Loading this module
-- replaces coroutine.resume and coroutine.wrap, as OpenResty does.
local core = require("microdot.core")

local type, error = type, error
-- core.resume is coroutine.resume that tells the host which coroutine runs
-- (so that a runaway inside one can be stopped).
local co_create, host_resume, co_yield, co_status, co_close, co_isyieldable =
  coroutine.create, core.resume, coroutine.yield, coroutine.status, coroutine.close,
  coroutine.isyieldable

local SUSPEND = core.SUSPEND

local M = {}

local function after_resume(co, ok, first, ...)
  if ok and first == SUSPEND and co_isyieldable() then
    return after_resume(co, host_resume(co, co_yield(SUSPEND, ...)))
  end
  return ok, first, ...
end

--- coroutine.resume, passing a request's suspensions up to the host.
---@param co thread
---@return boolean ok
---@return any ...
function M.resume(co, ...)
  return after_resume(co, host_resume(co, ...))
end
local resume = M.resume

--- coroutine.wrap keeps no handle on its thread; remembering it lets a
--- stream be closed (to-be-closed variables run) when its client goes away.
---@type table<function, thread>
M.wrapped_threads = setmetatable({}, { __mode = "k" })
local wrapped_threads = M.wrapped_threads

local function wrap_result(co, ok, ...)
  if ok then return ... end
  if co_status(co) == "dead" then co_close(co) end
  error((...), 0)
end

--- coroutine.wrap on top of `resume`.
---@param f function
---@return function
function M.wrap(f)
  local co = co_create(f)
  local function wrapper(...)
    return wrap_result(co, resume(co, ...))
  end
  wrapped_threads[wrapper] = co
  return wrapper
end

coroutine.resume = M.resume -- luacheck: ignore 122 (the budget-aware override)
coroutine.wrap = M.wrap -- luacheck: ignore 122

--- Suspends the request for `seconds`; other requests run meanwhile.
---@param seconds number non-negative
function M.sleep(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    error("microdot.sleep expects a non-negative number of seconds", 2)
  end
  if not co_isyieldable() then
    error("microdot.sleep can only be called while handling a request", 2)
  end
  local ok, err = co_yield(SUSPEND, core.SLEEP, seconds)
  if not ok then error(err or "request cancelled", 2) end
end

--- Waits for the host's async call `ticket`: suspends the request until
--- it is done. Outside a request (a script's top level, a test script)
--- there is nothing to suspend, so it blocks.
---@param ticket integer
---@return boolean ok
---@return any value_or_error
function M.await(ticket)
  if co_isyieldable() then
    return co_yield(SUSPEND, core.AWAIT, ticket)
  end
  return core.await_async(ticket)
end
local await = M.await

--- Wraps the Swift starter of an async host function, which returns the
--- call's ticket: calling the result waits for the call (see `await`).
---@param start fun(...): integer
---@return function
function M.async(start)
  return function(...)
    local ok, value = await(start(...))
    if not ok then error(value, 2) end
    return value
  end
end

return M
