-- A minimal busted-style runner for the Lua specs: `describe(name, fn)`
-- groups cases, `it(name, fn)` records one, `eq(actual, expected, what)`
-- compares deeply, `run()` runs them all, prints one line per case
-- ("ok   Group / case" or "FAIL Group / case" and the error), then
-- "N tests, M failed", and raises if any failed.
local runner = {}
local cases = {}
local groups = {}

function runner.describe(name, body)
  groups[#groups + 1] = name
  body()
  groups[#groups] = nil
end

function runner.it(name, fn)
  groups[#groups + 1] = name
  cases[#cases + 1] = {name = table.concat(groups, " / "), fn = fn}
  groups[#groups] = nil
end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. show(v[k]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do
    if not equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

function runner.eq(actual, expected, what)
  if not equal(actual, expected) then
    error((what or "value") .. ": expected " .. show(expected) .. ", got " .. show(actual), 2)
  end
end

function runner.run()
  local failed = 0
  for _, case in ipairs(cases) do
    local ok, err = xpcall(case.fn, debug.traceback)
    if ok then
      print("ok   " .. case.name)
    else
      failed = failed + 1
      print("FAIL " .. case.name .. "\n" .. tostring(err))
    end
  end
  print(string.format("%d tests, %d failed", #cases, failed))
  if failed > 0 then error(failed .. " of " .. #cases .. " Lua tests failed", 0) end
end

return runner
