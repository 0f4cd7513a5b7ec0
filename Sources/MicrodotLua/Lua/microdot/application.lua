-- The application: the Microdot class, its routes, hooks, error handlers
-- and mounted sub-apps. Requests are dispatched by microdot.dispatch.
local core = require("microdot.core")
local dispatch = require("microdot.dispatch")
local errors = require("microdot.errors")
local helpers = require("microdot.helpers")
local response = require("microdot.response")
local router = require("microdot.router")

local type, pairs, ipairs, tostring, error, setmetatable, getmetatable =
  type, pairs, ipairs, tostring, error, setmetatable, getmetatable
local math_tointeger = math.tointeger
local URLPattern = router.URLPattern

local M = {}

--- A Microdot application.
---@class microdot.Microdot
---@field url_map table[] the routes, in the order they were added
---@field before_request_handlers function[]
---@field after_request_handlers function[]
---@field after_error_request_handlers function[]
---@field error_handlers table<integer|table, function>
---@field debug boolean
---@field options_handler (fun(req: microdot.Request): table<string, string>)|false answers OPTIONS before routing
---@field get fun(self: microdot.Microdot, url_pattern: string, handler: function): function a GET route
---@field post fun(self: microdot.Microdot, url_pattern: string, handler: function): function a POST route
---@field put fun(self: microdot.Microdot, url_pattern: string, handler: function): function a PUT route
---@field patch fun(self: microdot.Microdot, url_pattern: string, handler: function): function a PATCH route
---@field delete fun(self: microdot.Microdot, url_pattern: string, handler: function): function a DELETE route
local Microdot = {}
Microdot.__index = Microdot
Microdot.__name = "microdot.Microdot"
M.Microdot = Microdot

--- A new, empty application.
---@return microdot.Microdot
function M.new()
  local app = setmetatable({
    url_map = {},
    before_request_handlers = {},
    after_request_handlers = {},
    after_error_request_handlers = {},
    error_handlers = {},
    debug = false,
  }, Microdot)
  app.options_handler = function(req) return dispatch.default_options_handler(app, req) end
  return app
end

--- Microdot's default answer to OPTIONS: an `Allow` header listing the
--- methods of the routes that match the path (HEAD with GET, and OPTIONS).
--- `app.options_handler` starts as this; `false` routes OPTIONS requests.
---@param req microdot.Request
---@return table<string, string> headers
function Microdot:default_options_handler(req)
  return dispatch.default_options_handler(self, req)
end

local function check_callable(f, what)
  local t = type(f)
  if t == "function" then return end
  local mt = getmetatable(f)
  if t == "table" and type(mt) == "table" and mt.__call ~= nil then return end
  error(what .. " must be a function, got " .. t, 3)
end

-- A route with the same pattern and a method already routed is never
-- reached (the first match answers): a warning at start-up.
local function warn_if_duplicate(app, route)
  for _, other in ipairs(app.url_map) do
    if other.pattern.url_pattern == route.pattern.url_pattern and other.url_prefix == "" then
      for _, m in ipairs(route.methods) do
        if other.method_set[m] then
          core.log("warning", "the route " .. m .. " " .. route.pattern.url_pattern
            .. " is registered twice; the first one (handler "
            .. (errors.handler_location(other.handler) or "?") .. ") answers and this one never will",
            helpers.script_location())
          return
        end
      end
    end
  end
end

local function add_route(app, url_pattern, methods, handler)
  check_callable(handler, "a route handler")
  local list, set = {}, {}
  for _, m in ipairs(methods) do
    m = tostring(m):upper()
    if not set[m] then
      set[m] = true
      list[#list + 1] = m
    end
  end
  local pattern = URLPattern.new(url_pattern)
  local route = {
    methods = list,
    method_set = set,
    pattern = pattern,
    arity = #pattern.segments,
    handler = handler,
    url_prefix = "",
  }
  warn_if_duplicate(app, route)
  app.url_map[#app.url_map + 1] = route
  return handler
end

-- `app.get(...)` instead of `app:get(...)`: the app is missing, the
-- pattern comes as `self`.
local function check_self(self, name)
  if getmetatable(self) == Microdot then return end
  if type(self) == "table" and self.url_map ~= nil then return end
  error("app." .. name .. "(...) was called with a dot: did you mean app:" .. name
    .. "(...)? (methods of the app take a colon)", 3)
end

--- Adds a route. `app:route(pattern, handler)` serves GET; `methods` is a
--- method name or a list of them.
---@param url_pattern string
---@param methods string|string[]|function
---@param handler? function called with the request and the URL arguments
---@return function handler
function Microdot:route(url_pattern, methods, handler)
  check_self(self, "route")
  if handler == nil then methods, handler = { "GET" }, methods end
  if type(methods) == "string" then methods = { methods } end
  return add_route(self, url_pattern, methods, handler)
end

for _, method in ipairs({ "get", "post", "put", "patch", "delete" }) do
  local upper = { method:upper() }
  Microdot[method] = function(self, url_pattern, handler)
    check_self(self, method)
    return add_route(self, url_pattern, upper, handler)
  end
end

-- Appends `f` to the app's list of hooks `name` (e.g. "before_request"),
-- after checking it can be called; `what` names it in that error. The
-- public methods tail-call it, so its errors name the script's line.
local function add_hook(self, name, what, f)
  check_self(self, name)
  check_callable(f, what)
  local hooks = self[name .. "_handlers"]
  hooks[#hooks + 1] = f
  return f
end

--- Registers a hook that runs before each route; a truthy return value
--- becomes the response and the route is skipped.
---@param f fun(req: microdot.Request): any
---@return function f
function Microdot:before_request(f)
  return add_hook(self, "before_request", "a before_request handler", f)
end

--- Registers a hook that runs after each route that answered; it may
--- return a new response.
---@param f fun(req: microdot.Request, res: microdot.Response): any
---@return function f
function Microdot:after_request(f)
  return add_hook(self, "after_request", "an after_request handler", f)
end

--- Registers a hook that runs after an error response (404, 405, 413, an
--- error handler's); it may return a new response.
---@param f fun(req: microdot.Request, res: microdot.Response): any
---@return function f
function Microdot:after_error_request(f)
  return add_hook(self, "after_error_request", "an after_error_request handler", f)
end

--- Registers the handler of an HTTP error status, or of an error class (a
--- table used as the metatable of raised errors; subclasses match too).
---@param status_or_class integer|table
---@param f fun(req: microdot.Request, err?: any): any
---@return function f
function Microdot:errorhandler(status_or_class, f)
  check_self(self, "errorhandler")
  check_callable(f, "an error handler")
  local kind = type(status_or_class)
  if kind == "number" then
    status_or_class = math_tointeger(status_or_class)
  elseif kind ~= "table" then
    error("errorhandler expects a status code or an error class table", 2)
  end
  self.error_handlers[status_or_class] = f
  return f
end

--- Adds a sub-app's routes under `url_prefix`. Its hooks and error
--- handlers move to this app unless options.local_hooks (or options["local"])
--- keeps them for its own routes.
---@param subapp microdot.Microdot
---@param url_prefix? string
---@param options? { local_hooks?: boolean, ["local"]?: boolean }
function Microdot:mount(subapp, url_prefix, options)
  check_self(self, "mount")
  if type(subapp) ~= "table" or type(subapp.url_map) ~= "table" then
    error("mount expects a Microdot app, got " .. type(subapp), 2)
  end
  if url_prefix ~= nil and type(url_prefix) ~= "string" then
    error("mount expects a URL prefix string, got " .. type(url_prefix), 2)
  end
  url_prefix = url_prefix or ""
  local is_local = type(options) == "table" and (options.local_hooks or options["local"])
  for _, route in ipairs(subapp.url_map) do
    local pattern = URLPattern.new(url_prefix .. route.pattern.url_pattern)
    self.url_map[#self.url_map + 1] = {
      methods = route.methods,
      method_set = route.method_set,
      pattern = pattern,
      arity = #pattern.segments,
      handler = route.handler,
      url_prefix = url_prefix .. route.url_prefix,
      subapp = route.subapp or subapp,
    }
  end
  if not is_local then
    for _, name in ipairs({ "before_request_handlers", "after_request_handlers",
      "after_error_request_handlers" }) do
      for _, h in ipairs(subapp[name]) do self[name][#self[name] + 1] = h end
      subapp[name] = {}
    end
    for key, h in pairs(subapp.error_handlers) do self.error_handlers[key] = h end
    subapp.error_handlers = {}
  end
end


---@class microdot.RunOptions
---@field host? string
---@field port? integer 0 to 65535 (0 picks a free port)
---@field workers? integer|"auto" 1 to 1024, or "auto" (one per core)
---@field debug? boolean

--- Asks the host to serve the app with these options, read once the
--- script has run (the command line's options win). An unknown key, or a
--- value of the wrong type or out of range, is an error here (the host's
--- Configuration rules).
---@param options? microdot.RunOptions
function Microdot:run(options)
  check_self(self, "run")
  options = options or {}
  if type(options) ~= "table" then error("app:run expects a table of options, got " .. type(options), 2) end
  local problem = core.run_options_problem(options)
  if problem ~= nil then error("app:run: " .. problem, 2) end
  -- Loaded by then: the script required it to get here.
  require("microdot")._run = { app = self, options = options }
end

--- Stops the server gracefully: requests under way finish first.
function Microdot:shutdown()
  core.shutdown()
end

--- microdot.abort, as a method.
---@param status_code integer
---@param reason? string
function Microdot.abort(_, status_code, reason)
  return errors.abort(status_code, reason)
end

--- The response to `req`, as the server would build it.
---@param req microdot.Request
---@param body_too_large? boolean the body went over the request's limits
---@return microdot.Response
function Microdot:dispatch_request(req, body_too_large)
  local body, content_type, status = dispatch.dispatch(self, req, body_too_large)
  if content_type ~= nil then
    return response.new_response(response.Response, 3, body, status, { ["Content-Type"] = content_type })
  end
  return body
end

return M
