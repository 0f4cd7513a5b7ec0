-- require("microdot.pubsub"): publish and subscribe across the workers of
-- the process (section 16 of the spec). Messages travel through the host
-- (Runtime/WorkerPubSub.swift, behind a PubSubBackend), which keeps each
-- subscription's queue; sub:receive waits for the host to wake it.
local core = require("microdot.core")
local check_self = require("microdot.errors").check_self

local type, error, tostring, setmetatable, select, rawget = type, error, tostring, setmetatable, select, rawget
local co_yield, co_isyieldable = coroutine.yield, coroutine.isyieldable
local json_encode, monotonic = core.json.encode, core.monotonic
local SUSPEND, WAIT = core.SUSPEND, core.WAIT

-- Under --shared, channels are Redis's (spec section 21): a publish waits
-- for Redis to take the message, a subscribe for Redis to confirm it, and
-- either raises at the caller when Redis cannot be reached.
local shared_endpoint, shared_server = core.shared_endpoint()
local redis_call, await
if shared_endpoint ~= nil then
  require("microdot.redis")
  redis_call, await = core.redis_call, require("microdot.coroutine").await
end

local M = {}

--- The most bytes a message may have (after JSON encoding).
M.max_message_length = 1024 * 1024
--- The most unread messages a subscription keeps; past that the oldest
--- are dropped and counted in `sub.dropped`.
M.max_queued = 1000

local function check_channel(name, channel, level)
  if type(channel) ~= "string" or #channel < 1 or #channel > 256 then
    error(name .. ": a channel is a string of 1 to 256 bytes, got "
      .. (type(channel) == "string" and #channel .. " bytes" or type(channel)), level + 1)
  end
end

--- A subscription to one or more channels.
---@class microdot.pubsub.Subscription
---@field dropped integer messages dropped because 1,000 were unread
local Subscription = {}
Subscription.__name = "microdot.pubsub.Subscription"
Subscription.__index = function(self, key)
  if key == "dropped" then return core.pubsub_dropped(rawget(self, "_id")) end
  return Subscription[key]
end
-- One forgotten without close() (in a timer) leaves with the garbage.
Subscription.__gc = function(self)
  local id = rawget(self, "_id")
  if id ~= nil then core.pubsub_close(id) end
end
M.Subscription = Subscription

--- Sends `message` (a string, or a table sent as JSON text; at most 1 MiB)
--- to every subscription to `channel` (1-256 bytes) in every worker. At
--- most once, in the order one publisher sends; waits for no receiver.
---@param channel string
---@param message string|table
function M.publish(channel, message)
  check_channel("pubsub.publish", channel, 2)
  local kind = type(message)
  if kind == "table" then
    local ok, text = pcall(json_encode, message)
    if not ok then error("pubsub.publish: " .. tostring(text), 2) end
    message = text
  elseif kind ~= "string" then
    error("pubsub.publish: a message is a string or a table (sent as JSON), got " .. kind, 2)
  end
  if #message > M.max_message_length then
    error("pubsub.publish: a message is at most " .. M.max_message_length .. " bytes, got " .. #message, 2)
  end
  if shared_endpoint == nil then return core.pubsub_publish(channel, message) end
  local ok, err = await(redis_call(shared_endpoint, not co_isyieldable(), "PUBLISH", channel, message))
  if not ok then error("pubsub.publish: redis " .. shared_server .. ": " .. tostring(err), 2) end
  if type(err) == "table" then error("pubsub.publish: " .. tostring(err), 2) end
end

--- Subscribes to the channels given. Made in a request, the subscription
--- closes when the request ends (the client leaving included); made in a
--- timer or on_start, when closed.
---@param ... string
---@return microdot.pubsub.Subscription
function M.subscribe(...)
  local count = select("#", ...)
  if count == 0 then error("pubsub.subscribe expects at least one channel", 2) end
  for i = 1, count do check_channel("pubsub.subscribe", (select(i, ...)), 2) end
  local id = core.pubsub_subscribe(...)
  if shared_endpoint ~= nil then
    local ok, err = await(core.pubsub_confirm(id))
    if not ok then
      core.pubsub_close(id)
      error("pubsub.subscribe: redis " .. shared_server .. ": " .. tostring(err), 2)
    end
  end
  return setmetatable({ _id = id }, Subscription)
end

--- The next message and its channel; `nil, "timeout"` once `timeout`
--- seconds pass without one (none: waits as long as it takes); `nil,
--- "closed"` after close(). Suspends only this coroutine. One coroutine
--- may wait on a subscription at a time.
---@param timeout? number
---@return string|nil message
---@return string channel_or_reason
function Subscription:receive(timeout)
  check_self(self, Subscription, "sub", "receive", "a subscription")
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
    error("sub:receive: timeout must be a number of seconds >= 0, got " .. tostring(timeout), 2)
  end
  local id = rawget(self, "_id")
  local deadline = timeout and monotonic() + timeout
  while true do
    local message, channel = core.pubsub_receive(id)
    if message ~= nil then return message, channel end
    if channel == "closed" then return nil, "closed" end
    local remaining
    if deadline ~= nil then
      remaining = deadline - monotonic()
      if remaining <= 0 then return nil, "timeout" end
    end
    -- Outside a coroutine (a script's top level) nothing can arrive.
    if not co_isyieldable() then return nil, "timeout" end
    local ok, err = co_yield(SUSPEND, WAIT, id, remaining)
    if not ok then
      if err == "timeout" then
        if deadline == nil then return nil, "timeout" end
      elseif err == "request cancelled" then
        error(err, 2)
      else
        error("sub:receive: " .. tostring(err), 2)
      end
    end
  end
end

--- Ends the subscription: no more messages; a waiting receive returns
--- `nil, "closed"`.
function Subscription:close()
  check_self(self, Subscription, "sub", "close", "a subscription")
  core.pubsub_close(rawget(self, "_id"))
end

return M
