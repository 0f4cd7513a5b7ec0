-- Dispatching a request: route lookup, the before/after hooks in their
-- order, error handlers by status and by error class, and the plain fast
-- path. Errors are caught here and become responses.
local core = require("microdot.core")
local datastructures = require("microdot.datastructures")
local errors = require("microdot.errors")
local response = require("microdot.response")
local router = require("microdot.router")
local slots = require("microdot.request").slots

local type, pairs, ipairs, tostring, xpcall, rawget, getmetatable =
  type, pairs, ipairs, tostring, xpcall, rawget, getmetatable
local unpack, concat = table.unpack, table.concat
local HTTPException, CaughtError = errors.HTTPException, errors.CaughtError
local catch, log_error, protected, search_classes =
  errors.catch, errors.log_error, errors.protected, errors.search_classes
local Response, new_response, make_response = response.Response, response.new_response, response.make_response
local plain_status, default_content_type, internal_error, JSON_TYPE =
  response.plain_status, response.default_content_type, response.internal_error, response.JSON_TYPE
local complete, first_chunk, close_stream = response.complete, response.first_chunk, response.close_stream
local response_problem = core.response_problem
local find_route, allow_header = router.find_route, router.allow_header
local json_array_mt, json_encode = core.json_array_mt, core.json.encode
local METHOD, URL, ROUTE, URL_ARGS = slots.method, slots.url, slots.route, slots.url_args
local ROUTE_PATTERN = slots._route_pattern

local M = {}

-- The app's hooks of one kind plus those of the route's sub-app, the
-- sub-app's first when `local_first`.
local function handlers_for(app, req, name, local_first)
  local subapp = rawget(req, "subapp")
  if not subapp or subapp == app then return app[name] end
  local first, second = subapp[name], app[name]
  if not local_first then first, second = second, first end
  if #first == 0 then return second end
  if #second == 0 then return first end
  local all = {}
  for _, h in ipairs(first) do all[#all + 1] = h end
  for _, h in ipairs(second) do all[#all + 1] = h end
  return all
end

local function error_response(app, req, status_code, reason)
  local subapp = req.subapp
  local handler = (subapp and subapp.error_handlers[status_code])
    or app.error_handlers[status_code]
  if handler ~= nil then
    return make_response(handler(req))
  end
  return new_response(Response, 3, reason or "N/A", status_code)
end

local function handler_of_class(class, app, subapp)
  return (subapp and subapp.error_handlers[class]) or app.error_handlers[class]
end

-- The handler registered for the class of `err` or its nearest ancestor.
local function class_handler(app, req, err)
  return search_classes(err, handler_of_class, app, req.subapp)
end

-- An after-request hook's return values: nil keeps the response.
local function replace_response(res, body, status_or_headers, headers)
  if body == nil then return res end
  return make_response(body, status_or_headers, headers)
end

-- The first before_request hook that answers, as a Response; or nil.
local function run_before(req, before)
  for i = 1, #before do
    local body, status_or_headers, headers = before[i](req)
    if body then return make_response(body, status_or_headers, headers) end
  end
  return nil
end

-- `res` through the after_request hooks `after`, then the request's own.
local function run_after(req, res, after)
  for i = 1, #after do
    res = replace_response(res, after[i](req, res))
  end
  local own = rawget(req, "_after_request")
  if own ~= nil then
    for _, handler in ipairs(own) do
      res = replace_response(res, handler(req, res))
    end
  end
  return res
end

-- The route's response. When no after-request hook can see the Response
-- object and the handler returns just a string or a plain table (JSON),
-- maybe with a status, the body, its Content-Type and the status come back
-- instead, with no Response built: the host writes them under a prebuilt
-- head, the same bytes `complete` leads to.
local function run_route(app, req, route, args)
  -- Without a mounted app's route, the app's own hook lists, as they are.
  local subapp = rawget(req, "subapp")
  local before = subapp and handlers_for(app, req, "before_request_handlers", false)
    or app.before_request_handlers
  local res = #before > 0 and run_before(req, before) or nil
  local after
  if res == nil then
    local arity = route.arity
    local body, status_or_headers, headers
    if arity == 0 then
      body, status_or_headers, headers = route.handler(req)
    else
      body, status_or_headers, headers = route.handler(req, unpack(args, 1, arity))
    end
    after = subapp and handlers_for(app, req, "after_request_handlers", true) or app.after_request_handlers
    local status = headers == nil and (status_or_headers == nil and 200 or plain_status(status_or_headers))
    if status and #after == 0 and rawget(req, "_after_request") == nil then
      local kind = type(body)
      if kind == "string" then return body, default_content_type(), status end
      if kind == "table" then
        local mt = getmetatable(body)
        if mt == nil or mt == json_array_mt then return json_encode(body), JSON_TYPE, status end
      end
    end
    res = make_response(body, status_or_headers, headers)
  end
  return run_after(req, res, after or handlers_for(app, req, "after_request_handlers", true))
end

local function handle_error(app, req, err)
  if getmetatable(err) == HTTPException then
    local res = protected(error_response, app, req, err.status_code, err.reason)
    -- Headers the answer needs (the 426 of microdot.websocket).
    if res ~= nil and type(err.headers) == "table" then
      for name, value in pairs(err.headers) do res.headers[name] = value end
    end
    return res
  end
  -- An error an error-class handler answers is the app's business, as in
  -- Flask: only errors that end in a 500 are logged.
  local handler = getmetatable(err) == CaughtError and class_handler(app, req, err.value) or nil
  local res
  if handler ~= nil then
    res = protected(function() return make_response(handler(req, err.value)) end)
  end
  if res == nil then
    log_error(err, req)
    res = protected(error_response, app, req, 500, "Internal server error")
  end
  return res
end

-- The 405 (with Allow) or 404 for a request no route takes.
local function no_route(app, req, args)
  if args ~= 405 then return protected(error_response, app, req, 404, "Not found") end
  local res = protected(error_response, app, req, 405, "Method not allowed")
  if res ~= nil and res.status_code == 405 and res.headers["Allow"] == nil then
    res.headers["Allow"] = allow_header(app, req)
  end
  return res
end

-- The answer to an OPTIONS request: 200, empty, the handler's headers.
local function options_response(app, req)
  return new_response(Response, 3, "", 200, app.options_handler(req))
end

-- Whether an extension marked names for the Vary header in `req.g._vary`.
-- `req.g` is made on first use, so a request that never touched it costs
-- one rawget.
local function has_vary(req)
  local g = rawget(req, "g")
  return g ~= nil and type(g) == "table" and type(rawget(g, "_vary")) == "table"
end

-- Merges the names marked in `marked` (a set) into `res`'s Vary header:
-- the existing value (a string or an array of them) split on "," and
-- trimmed, then the marked names it lacks, compared case-insensitively,
-- appended in sorted order.
local function merge_vary(res, marked)
  local names, seen = {}, {}
  local function add(name)
    local lower = name:lower()
    if name ~= "" and not seen[lower] then
      seen[lower] = true
      names[#names + 1] = name
    end
  end
  local existing = res.headers["Vary"]
  if type(existing) == "string" then existing = { existing } end
  if type(existing) == "table" then
    for _, value in ipairs(existing) do
      for part in tostring(value):gmatch("[^,]+") do add(datastructures.strip(part)) end
    end
  end
  local extra = {}
  for name, on in pairs(marked) do
    if on and type(name) == "string" and not seen[name:lower()] then extra[#extra + 1] = name end
  end
  table.sort(extra)
  for _, name in ipairs(extra) do add(name) end
  if #names > 0 then res.headers["Vary"] = concat(names, ", ") end
  return true
end

-- The after_error_request hooks, for a response that is an error's.
local function after_error(app, req, res)
  for _, handler in ipairs(handlers_for(app, req, "after_error_request_handlers", true)) do
    res = protected(function() return replace_response(res, handler(req, res)) end)
      or internal_error()
  end
  return res
end

-- The names extensions marked for Vary, merged into `res` (has_vary(req)).
local function add_vary(req, res)
  if not protected(merge_vary, res, rawget(req, "g")._vary) then return internal_error() end
  return res
end

-- Makes `res` final: complete (a header table, a Content-Type), checked
-- against the encoder's rules with what every hook did to it, and, when
-- `take_first`, a stream's first chunk taken (returned). Raises what is
-- wrong, so that it goes through the app's error handling.
local function finish(res, take_first)
  complete(res)
  local problem, streams = response_problem(res)
  if problem ~= nil then error("invalid response: " .. problem, 0) end
  if take_first and streams then return first_chunk(res.body) end
end

-- `res` made final (see finish). What is wrong with a route's response
-- (`answered`) is a 500 through the app (errorhandler(500), the
-- after_error_request hooks), as any error of its handler; what is wrong
-- with an error's response is logged and answered by the server's 500.
local function final(app, req, res, answered, take_first)
  -- The common case without a protected call: headers that complete()
  -- takes as they are, a valid response, no stream to start.
  local ok, first
  if type(res.headers) == "table" then
    complete(res)
    local problem, streams = response_problem(res)
    if problem == nil then
      if not (take_first and streams) then return res end
      ok, first = xpcall(first_chunk, catch, res.body)
    end
  end
  if ok == nil then ok, first = xpcall(finish, catch, res, take_first) end
  if ok then return res, first end
  close_stream(res.body)
  if answered then
    res = after_error(app, req, handle_error(app, req, first) or internal_error())
    if has_vary(req) then res = add_vary(req, res) end
    ok, first = xpcall(finish, catch, res, take_first)
    if ok then return res, first end
    close_stream(res.body)
  end
  log_error(first, req, "the response of an error handler or after_error_request hook")
  res = internal_error()
  complete(res)
  return res, nil
end

--- The response to `req`: a Response, completed and checked, or a body,
--- its Content-Type and the status (see run_route). With `take_first`, a
--- streamed body's first chunk is taken (see finish) and comes fourth.
---@param app microdot.Microdot
---@param req microdot.Request
---@param body_too_large? boolean
---@param take_first? boolean
---@return microdot.Response|string
---@return string? content_type
---@return integer? status
---@return string? first the stream's first chunk
function M.dispatch(app, req, body_too_large, take_first)
  local res, completed
  if body_too_large then
    res = protected(error_response, app, req, 413, "Payload too large")
  elseif (req[METHOD] or req.method) == "OPTIONS" and app.options_handler then
    -- Answered before routing, as Microdot's find_route: no before_request
    -- hook runs, and (deliberately) no after_error_request hook either.
    local ok, result = xpcall(options_response, catch, app, req)
    if ok then
      res, completed = result, true
    else
      res = handle_error(app, req, result)
    end
  else
    local route, args, matched = find_route(app, req, req[METHOD], req[URL])
    -- A route of the app itself leaves the request's defaults ("", false).
    if matched ~= nil and (matched.subapp ~= nil or matched.url_prefix ~= "") then
      req.url_prefix = matched.url_prefix
      req.subapp = matched.subapp or false
    end
    if route ~= nil then
      req[ROUTE] = route.handler
      req[ROUTE_PATTERN] = route.pattern.url_pattern
      if route.arity > 0 then
        local segments = route.pattern.segments
        local url_args = {}
        for i = 1, #segments do url_args[segments[i].name] = args[i] end
        rawset(req, URL_ARGS, url_args)
      end
      local ok, result, content_type, status = xpcall(run_route, catch, app, req, route, args)
      if ok then
        if content_type ~= nil then
          if rawget(req, "g") == nil or not has_vary(req) then return result, content_type, status end
          result = new_response(Response, 3, result, status, { ["Content-Type"] = content_type })
        end
        res, completed = result, true
      else
        res = handle_error(app, req, result)
      end
    else
      res = no_route(app, req, args)
    end
  end
  if res == nil then res = internal_error() end
  if not completed then res = after_error(app, req, res) end
  if has_vary(req) then res = add_vary(req, res) end
  local first
  res, first = final(app, req, res, completed, take_first)
  return res, nil, nil, first
end

--- Microdot's default `options_handler`: the `Allow` header for the path.
---@param app microdot.Microdot
---@param req microdot.Request
---@return table<string, string> headers
function M.default_options_handler(app, req)
  return { Allow = allow_header(app, req) }
end

return M
