-- microdot.timer, on_start and spawn (BackgroundTests.swift).
local microdot = require("microdot")
local clock = require("microdot.core").monotonic
local shared = microdot.shared
local app = microdot.Microdot()

microdot.on_start(function()
  shared:incr("starts", 1, 0)
  shared:incr("starts:" .. microdot.worker_id, 1, 0)
end)

-- How late (seconds) a timer.at of `delay` ran.
app:get("/at", function(req)
  local delay = req.args:get("delay", 0, tonumber)
  local due = clock() + delay
  microdot.timer.at(delay, function(key) shared:set(key, clock() - due) end, "at_late")
  return "scheduled"
end)

-- `n` runs of timer.every(interval): the worst lateness and the count.
app:get("/every", function(req)
  local interval = req.args:get("interval", 0.05, tonumber)
  local n = req.args:get("n", 5, tonumber)
  local due = clock() + interval
  local runs, worst = 0, 0
  local timer
  timer = microdot.timer.every(interval, function()
    local late = clock() - due
    if late > worst then worst = late end
    runs = runs + 1
    shared:set("every", { runs = runs, worst = worst })
    if runs == n then timer:cancel() end
    due = clock() + interval
  end)
  return "scheduled"
end)

app:get("/cancel", function(req)
  local timer = microdot.timer.at(0.1, function() shared:set("cancelled_ran", true) end)
  local every = microdot.timer.every(0.05, function() shared:set("cancelled_ran", true) end)
  local first, second = timer:cancel(), timer:cancel()
  local every_first = every:cancel()
  microdot.sleep(0.3)
  return { first = first, second = second, every = every_first, ran = shared:get("cancelled_ran") or false }
end)

local failing
app:get("/failing", function(req)
  shared:set("failures", 0)
  failing = microdot.timer.every(0.02, function()
    shared:incr("failures", 1)
    error("boom")
  end)
  return "scheduled"
end)
app:get("/failing/stop", function(req) return tostring(failing:cancel()) end)

app:get("/runaway", function(req)
  microdot.timer.at(0, function() while true do end end)
  return "scheduled"
end)

app:get("/ping", function(req) return "pong" end)

app:get("/too-many", function(req)
  local timers = {}
  local ok, err
  for i = 1, 1100 do
    ok, err = pcall(function() local t = microdot.timer.at(60, print); return t end)
    if not ok then break end
    timers[i] = err
  end
  for _, timer in ipairs(timers) do timer:cancel() end
  return { made = #timers, err = err }
end)

-- Two spawned 100 ms calls, waited on.
app:get("/spawn", function(req)
  local started = clock()
  local a = microdot.spawn(function(x) microdot.sleep(0.1); return x * 2, "more" end, 21)
  local b = microdot.spawn(function() microdot.sleep(0.1); return "b" end)
  local doubled, more = a:wait()
  local letter = b:wait()
  return { a = doubled, more = more, b = letter, took = clock() - started }
end)

app:get("/spawn-error", function(req)
  local handle = microdot.spawn(function() microdot.sleep(0.01); error("spawned boom") end)
  local ok, err = pcall(handle.wait, handle)
  return { ok = ok, err = err }
end)

-- Returns at once: the spawned coroutine is closed with the request.
app:get("/spawn-left", function(req)
  shared:set("spawn_closed", false)
  microdot.spawn(function()
    local _ <close> = setmetatable({}, { __close = function() shared:set("spawn_closed", true) end })
    microdot.sleep(30)
  end)
  return "left"
end)

-- For the shutdown test: an every that appends to `file`, a run that
-- never ends by itself (its close is written), and a timer still pending.
app:get("/setup", function(req)
  local file = req.args.file
  local function write(line)
    local f = assert(io.open(file, "a"))
    f:write(line, "\n")
    f:close()
  end
  microdot.timer.every(0.05, write, "tick")
  microdot.timer.at(0, function()
    local _ <close> = setmetatable({}, { __close = function() write("closed") end })
    while true do microdot.sleep(0.05) end
  end)
  microdot.timer.at(0.4, write, "late")
  return "set up"
end)

return app
