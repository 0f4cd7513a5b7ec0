-- Routes for the embedding example: `inventory` is a Swift module.
local microdot = require("microdot")
local inventory = require("inventory")
local app = microdot.Microdot()

app:get("/stock/<item>", function(req, item)
  local count = inventory.count(item)
  if count == nil then return {error = "unknown item " .. item}, 404 end
  return {item = item, count = count, in_stock = count > 0}
end)

app:post("/stock/<item>/take", function(req, item)
  local left = inventory.take(item)
  if left == nil then return {error = "out of " .. item}, 409 end
  return {item = item, left = left}
end)

app:get("/slow", function(req)
  microdot.log.info("slow request started")
  microdot.sleep(0.5)
  return "done"
end)

app:get("/shutdown", function(req)
  app:shutdown()
  return "bye"
end)

return app
