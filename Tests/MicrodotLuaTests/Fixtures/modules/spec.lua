-- A minimal test runner for Lua spec scripts: `spec.test(name, fn)` records
-- a test, `spec.eq(actual, expected, what)` compares deeply, `spec.run()` runs
-- them all, prints one line each and raises if any failed.
local spec = {}
local tests = {}

function spec.test(name, fn)
  tests[#tests + 1] = {name = name, fn = fn}
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

function spec.eq(actual, expected, what)
  if not equal(actual, expected) then
    error((what or "value") .. ": expected " .. show(expected) .. ", got " .. show(actual), 2)
  end
end

function spec.run()
  local failed = 0
  for _, t in ipairs(tests) do
    local ok, err = xpcall(t.fn, debug.traceback)
    if ok then
      print("ok   " .. t.name)
    else
      failed = failed + 1
      print("FAIL " .. t.name .. "\n" .. tostring(err))
    end
  end
  print(string.format("%d tests, %d failed", #tests, failed))
  if failed > 0 then error(failed .. " of " .. #tests .. " Lua tests failed", 0) end
end

return spec
