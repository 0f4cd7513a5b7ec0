-- microdot.shared from Lua: values, incr rules, errors.
local microdot = require("microdot")
local spec = require("modules.spec")
local test, eq = spec.test, spec.eq
local shared = microdot.shared

test("strings, numbers and booleans round-trip", function()
  shared:set("s", "text\0bytes")
  shared:set("i", 42)
  shared:set("f", 2.5)
  shared:set("b", false)
  eq(shared:get("s"), "text\0bytes", "string")
  eq(math.type(shared:get("i")), "integer", "integer stays integer")
  eq(shared:get("f"), 2.5, "float")
  eq(shared:get("b"), false, "boolean")
  eq(shared:get("missing"), nil, "missing")
end)

test("set nil and delete remove a key", function()
  shared:set("gone", 1)
  shared:set("gone", nil)
  eq(shared:get("gone"), nil, "set nil")
  shared:set("gone", 1)
  shared:delete("gone")
  eq(shared:get("gone"), nil, "delete")
end)

test("incr", function()
  eq({shared:incr("counter", 1)}, {nil, "not found"}, "missing without init")
  eq(shared:incr("counter", 5, 10), 15, "missing with init")
  eq(shared:incr("counter"), 16, "by one")
  eq(shared:incr("counter", 0.5), 16.5, "by a float")
  shared:set("word", "x")
  eq(pcall(shared.incr, shared, "word", 1), false, "not a number")
end)

test("bad arguments are errors", function()
  eq(pcall(shared.set, shared, "t", {}), false, "tables are not stored")
  eq(pcall(shared.set, shared, 1, "x"), false, "keys are strings")
  eq(pcall(shared.set, shared, "k", "v", -1), false, "ttl must be positive")
  eq(pcall(shared.get, shared, nil), false, "get without a key")
end)

test("the worker id", function()
  eq(microdot.worker_id, 1, "worker_id")
end)

spec.run()
