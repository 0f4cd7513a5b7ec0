-- Argument checks of the outbound clients that need no server: they raise
-- at the caller's line before anything connects.
local pg = require("microdot.pg")
local redis = require("microdot.redis")
local runner = require("runner")
local describe, it, eq = runner.describe, runner.it, runner.eq

-- Runs f (which must raise) and returns its message and the line it names.
local function raised(f)
  local ok, err = pcall(f)
  eq(ok, false, "raised")
  return tostring(err), tonumber(tostring(err):match("outbound_spec%.lua:(%d+):"))
end

describe("microdot.pg", function()
  it("refuses BEGIN, COMMIT and the like outside db:transaction", function()
    local db = pg.connect("postgres://app:pw@127.0.0.1:1/app")
    for _, sql in ipairs({ "BEGIN", "  begin transaction", "START TRANSACTION", "COMMIT", "rollback", "END" }) do
      local line = debug.getinfo(1, "l").currentline + 1
      local message, at = raised(function() local rows = db:query(sql); return rows end)
      eq(at, line, "names the caller's line: " .. message)
      eq(message:find("cannot be sent on its own (use db:transaction(f))", 1, true) ~= nil, true, message)
    end
  end)
end)

describe("microdot.redis", function()
  it("names the caller's line and the fault of a bad URL", function()
    local cases = {
      { "http://x", "not a redis:// URL" },
      { "redis://h:notaport", "a port that is not a number" },
      { "redis://:99999", "no host" },
      { "redis://h:99999", "a port out of 1-65535" },
      { "redis://h/x", "a database that is not a number" },
    }
    for _, case in ipairs(cases) do
      local line = debug.getinfo(1, "l").currentline + 1
      local message, at = raised(function() local r = redis.connect(case[1]); return r end)
      eq(at, line, "names the caller's line: " .. message)
      eq(message:find(case[2], 1, true) ~= nil, true, message)
    end
  end)
end)

runner.run()
