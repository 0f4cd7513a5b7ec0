-- coroutine.resume is the host's (it records which coroutine runs); it must
-- behave as Lua's own.
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq

describe("coroutine.resume", function()
  it("values pass in and out", function()
    local co = coroutine.create(function(a, b)
      local c = coroutine.yield(a + b, "yielded")
      return c * 2, "done"
    end)
    eq({coroutine.resume(co, 1, 2)}, {true, 3, "yielded"}, "first resume")
    eq({coroutine.resume(co, 5)}, {true, 10, "done"}, "second resume")
    eq(coroutine.status(co), "dead", "status")
  end)

  it("errors come back as false and the error", function()
    local co = coroutine.create(function() error({code = 7}) end)
    local ok, err = coroutine.resume(co)
    eq({ok, err}, {false, {code = 7}}, "a table error")
    co = coroutine.create(function() error("boom", 0) end)
    eq({coroutine.resume(co)}, {false, "boom"}, "a string error")
  end)

  it("dead and running coroutines cannot be resumed", function()
    local co = coroutine.create(function() end)
    coroutine.resume(co)
    eq({coroutine.resume(co)}, {false, "cannot resume dead coroutine"}, "dead")
    local inner
    inner = coroutine.create(function() return coroutine.resume(inner) end)
    eq({coroutine.resume(inner)}, {true, false, "cannot resume non-suspended coroutine"}, "running")
  end)

  it("a non-coroutine argument is an error", function()
    local ok, err = pcall(coroutine.resume, 42)
    eq(ok, false, "raised")
    eq(err:find("thread expected", 1, true) ~= nil, true, err)
  end)

  it("nests deeply and works under coroutine.wrap", function()
    local function nest(n)
      if n == 0 then return coroutine.yield("bottom") end
      local co = coroutine.create(nest)
      local _, value = coroutine.resume(co, n - 1)
      return value
    end
    local co = coroutine.create(nest)
    eq({coroutine.resume(co, 40)}, {true, "bottom"}, "40 levels")
    local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
    eq({gen(), gen(), gen()}, {1, 2, 3}, "wrap")
  end)
end)

runner.run()
