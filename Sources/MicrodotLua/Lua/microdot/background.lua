-- Background work (section 18 of the spec): microdot.timer.at/every,
-- microdot.on_start and microdot.spawn, as OpenResty's ngx.timer and
-- ngx.thread.spawn. The host (Runtime/BackgroundRuns.swift) schedules the
-- runs; each run is a coroutine of this state driven as a request is
-- (RequestTask), entering through `run(id)`. This module keeps each job's
-- function and arguments by id.
local core = require("microdot.core")
local helpers = require("microdot.helpers")
local check_self = require("microdot.errors").check_self

local type, error, tostring, setmetatable, ipairs = type, error, tostring, setmetatable, ipairs
local xpcall, pack, unpack, traceback = xpcall, table.pack, table.unpack, debug.traceback
local co_yield, co_isyieldable = coroutine.yield, coroutine.isyieldable
local SUSPEND, WAIT, SPAWN = core.SUSPEND, core.WAIT, core.SPAWN

local M = {}

-- id -> { fn, args, label, every, handle }
local jobs = {}
-- on_start functions, in the order given: { fn, label }
local starters = {}
local started = false

-- "file:line" of the caller `level` levels up.
local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info == nil then return "?" end
  return info.short_src .. ":" .. (info.currentline or 0)
end

local function check_function(name, fn)
  if not helpers.callable(fn) then error(name .. " expects a function, got " .. type(fn), 3) end
end

-- The error of a coroutine that was stopped (its request ended, it was
-- cancelled): not worth a log record.
local function cancelled(err)
  return type(err) == "string" and err:find("request cancelled$") ~= nil
end

-- Keeps the error value (for handle:wait) and its traceback (for the log).
local function caught(err)
  local text = type(err) == "string" and err or tostring(err)
  return { error = err, trace = traceback(text, 2) }
end

--- A timer's handle.
---@class microdot.timer.Timer
local Timer = {}
Timer.__index = Timer
Timer.__name = "microdot.timer.Timer"

--- Stops the timer: its pending run is dropped, a run under way (unless
--- the caller is that run) is stopped, `every` runs no more. True when a
--- run was left to stop; false when it was done already.
---@return boolean
function Timer:cancel()
  check_self(self, Timer, "timer", "cancel", "a timer handle")
  jobs[self.id] = nil
  return core.timer_cancel(self.id)
end

local function new_timer(name, delay, interval, fn, ...)
  local id = core.new_id()
  local label = name .. " (" .. where(3) .. ")"
  jobs[id] = { fn = fn, args = pack(...), label = label, every = interval ~= nil }
  local err = core.timer_start(id, delay, interval, label)
  if err ~= nil then
    jobs[id] = nil
    error(err, 3)
  end
  return setmetatable({ id = id }, Timer)
end

local function is_number(v) return type(v) == "number" and v == v end

M.timer = {}

--- Runs `fn(...)` once, `delay` seconds (>= 0) from now, in a coroutine of
--- this worker's state. Raises at the script's top level (use on_start)
--- and past 1,024 pending timers on this worker.
---@param delay number
---@param fn function
---@return microdot.timer.Timer
function M.timer.at(delay, fn, ...)
  if not is_number(delay) or delay < 0 then
    error("microdot.timer.at: delay must be a number of seconds >= 0, got " .. tostring(delay), 2)
  end
  check_function("microdot.timer.at", fn)
  local timer = new_timer("timer.at", delay, nil, fn, ...) -- not a tail call: new_timer looks 3 levels up
  return timer
end

--- Runs `fn(...)` every `interval` seconds (> 0), counted from the end of
--- the previous run (runs never overlap); an error is logged and the
--- timer goes on.
---@param interval number
---@param fn function
---@return microdot.timer.Timer
function M.timer.every(interval, fn, ...)
  if not is_number(interval) or interval <= 0 then
    error("microdot.timer.every: interval must be a number of seconds > 0, got " .. tostring(interval), 2)
  end
  check_function("microdot.timer.every", fn)
  local timer = new_timer("timer.every", interval, interval, fn, ...)
  return timer
end

--- Runs `fn()` once in each worker when it starts serving (and again in a
--- state loaded by --reload), in a coroutine; never under --test. Call it
--- at the script's top level.
---@param fn function
function M.on_start(fn)
  check_function("microdot.on_start", fn)
  if started then error("microdot.on_start: call it at the script's top level", 2) end
  starters[#starters + 1] = { fn = fn, label = "on_start (" .. where(2) .. ")" }
end

--- A spawned coroutine's handle.
---@class microdot.Thread
local Thread = {}
Thread.__index = Thread
Thread.__name = "microdot.Thread"

--- Waits for the coroutine to end; returns what its function returned,
--- or raises its error.
---@return any ...
function Thread:wait()
  check_self(self, Thread, "thread", "wait", "a spawned coroutine's handle")
  if not self._done then
    if not co_isyieldable() then error("thread:wait: only inside a request, a timer or on_start", 2) end
    self._waiting = true
    local ok, err = co_yield(SUSPEND, WAIT, self._id)
    self._waiting = false
    if not ok then
      if cancelled(err) then error(err, 2) end
      error("thread:wait: " .. tostring(err), 2)
    end
    -- Woken by its end: a coroutine closed without unwinding never set _done.
    if not self._done then error("thread:wait: the coroutine was closed", 2) end
  end
  if self._failed then error(self._error, 0) end
  return unpack(self._results, 2, self._results.n)
end

--- Stops the coroutine (it unwinds, as when its request ends). True when
--- it was still running.
---@return boolean
function Thread:cancel()
  check_self(self, Thread, "thread", "cancel", "a spawned coroutine's handle")
  if self._done then return false end
  return core.spawn_cancel(self._id)
end

--- Starts `fn(...)` in a new coroutine, which runs until it first waits (or
--- ends) before this returns. It is closed when the request that spawned it
--- ends.
---@param fn function
---@return microdot.Thread
function M.spawn(fn, ...)
  check_function("microdot.spawn", fn)
  if not co_isyieldable() then error("microdot.spawn: only inside a request, a timer or on_start", 2) end
  local id = core.new_id()
  local handle = setmetatable({ _id = id, _done = false }, Thread)
  jobs[id] = { fn = fn, args = pack(...), label = "spawn (" .. where(2) .. ")", handle = handle }
  local ok, err = co_yield(SUSPEND, SPAWN, id)
  if not ok then
    jobs[id] = nil
    error(err or "request cancelled", 2)
  end
  return handle
end

local function start_all()
  started = true
  for _, starter in ipairs(starters) do
    local id = core.new_id()
    jobs[id] = { fn = starter.fn, args = pack(), label = starter.label }
    local err = core.timer_start(id, 0, nil, starter.label)
    if err ~= nil then core.log_error(starter.label .. ": " .. err) end
  end
end

local function finish(job, ok, ...)
  local handle = job.handle
  if handle ~= nil then
    handle._done = true
    if ok then
      handle._results = pack(ok, ...)
    else
      handle._failed = true
      handle._error = (...).error
    end
  end
  if not ok then
    local err = ...
    -- A spawned coroutine's error goes to whoever waits for it.
    if not cancelled(err.error) and not (handle ~= nil and handle._waiting) then
      core.log_error("error in " .. job.label .. ": " .. err.trace)
    end
  end
end

--- The host's entry for background run `id`, in the run's own coroutine
--- (0: the worker starts serving; the on_start functions become timers).
---@param id integer
function M.run(id)
  if id == 0 then return start_all() end
  local job = jobs[id]
  if job == nil then return end
  if not job.every then jobs[id] = nil end
  finish(job, xpcall(job.fn, caught, unpack(job.args, 1, job.args.n)))
end


return M
