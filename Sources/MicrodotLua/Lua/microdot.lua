-- The microdot module as Lua scripts see it: Microdot's routing, hooks and
-- response rules, on top of primitives the Swift host passes in as `core`.
-- The host calls `_serve` once per request, inside that request's coroutine.
local core = ...

local type, next, pairs, ipairs, select, tostring, tonumber, error, pcall, xpcall =
    type, next, pairs, ipairs, select, tostring, tonumber, error, pcall, xpcall
local rawget, rawset, setmetatable, getmetatable = rawget, rawset, setmetatable, getmetatable
local concat, unpack = table.concat, table.unpack
-- core.resume is coroutine.resume that tells the host which coroutine runs
-- (so a runaway inside one can be stopped).
local co_create, co_resume, co_yield, co_status, co_close, co_isyieldable =
    coroutine.create, core.resume, coroutine.yield, coroutine.status, coroutine.close,
    coroutine.isyieldable
local math_tointeger = math.tointeger
local find, sub, match = string.find, string.sub, string.match

-- Yielded (first value) by anything that suspends a request: the host sees it
-- at the top of the request coroutine and resumes it when the wait is over.
local SUSPEND = core.SUSPEND

-- Most of what a request allocates dies with it: the generational
-- collector handles that with less work than the incremental one.
collectgarbage("generational", 60, 100)

local M = {}
M.json = core.json
local json_array_mt = core.json_array_mt

-- Marks a table (a new one when nil) to be encoded as a JSON array.
function M.json.array(t)
    return setmetatable(t or {}, json_array_mt)
end

---------------------------------------------------------------------------
-- Coroutines: a suspension raised inside a nested coroutine (a generator, a
-- wrapped function) is passed up to the host and the answer passed back down,
-- so that microdot.sleep works at any depth.
---------------------------------------------------------------------------
local function after_resume(co, ok, first, ...)
    if ok and first == SUSPEND and co_isyieldable() then
        return after_resume(co, co_resume(co, co_yield(SUSPEND, ...)))
    end
    return ok, first, ...
end

local function resume(co, ...)
    return after_resume(co, co_resume(co, ...))
end

-- coroutine.wrap keeps no handle on its thread; remembering it lets a stream
-- be closed (to-be-closed variables run) when its client goes away.
local wrapped_threads = setmetatable({}, { __mode = "k" })

local function wrap_result(co, ok, ...)
    if ok then return ... end
    if co_status(co) == "dead" then co_close(co) end
    error((...), 0)
end

local function wrap(f)
    local co = co_create(f)
    local function wrapper(...)
        return wrap_result(co, resume(co, ...))
    end
    wrapped_threads[wrapper] = co
    return wrapper
end

coroutine.resume = resume -- luacheck: ignore 122 (the budget-aware override)
coroutine.wrap = wrap -- luacheck: ignore 122

function M.sleep(seconds)
    if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
        error("microdot.sleep expects a non-negative number of seconds", 2)
    end
    if not co_isyieldable() then
        error("microdot.sleep can only be called while handling a request", 2)
    end
    local ok, err = co_yield(SUSPEND, "sleep", seconds)
    if not ok then error(err or "request cancelled", 2) end
end

-- Wraps the Swift starter of an async host function: the call suspends the
-- request until the Swift task is done. Outside a request (a script's top
-- level, a test script) there is nothing to suspend, so it waits.
function M._async(start)
    return function(...)
        local ticket = start(...)
        local ok, value
        if co_isyieldable() then
            ok, value = co_yield(SUSPEND, "async", ticket)
        else
            ok, value = core.await_async(ticket)
        end
        if not ok then error(value, 2) end
        return value
    end
end

---------------------------------------------------------------------------
-- microdot.shared: one store for every worker, kept by the host.
---------------------------------------------------------------------------
local Shared = {}
Shared.__index = Shared
Shared.__name = "microdot.shared"

function Shared:get(key) return core.shared_get(key) end
function Shared:set(key, value, ttl) return core.shared_set(key, value, ttl) end
function Shared:incr(key, n, init) return core.shared_incr(key, n, init) end
function Shared:delete(key) return core.shared_delete(key) end

M.shared = setmetatable({}, Shared)
M.worker_id = core.worker_id

---------------------------------------------------------------------------
-- Case-insensitive header tables: keys keep the case they were set with
-- (what goes on the wire); lookups and assignments ignore case.
---------------------------------------------------------------------------
local Headers = {}

-- Lower-case forms of header names, so that a lookup does not build new
-- strings each time; bounded, since clients choose request header names.
local lower_cache, lower_cached = {}, 0
local function lower(key)
    local l = lower_cache[key]
    if l == nil then
        l = key:lower()
        if lower_cached >= 4096 then lower_cache, lower_cached = {}, 0 end
        lower_cache[key], lower_cached = l, lower_cached + 1
    end
    return l
end

local function header_key(t, key)
    local wanted = lower(key)
    for k in next, t do
        if type(k) == "string" and lower(k) == wanted then return k end
    end
end

Headers.__index = function(t, key)
    if type(key) ~= "string" then return nil end
    local k = header_key(t, key)
    if k ~= nil then return rawget(t, k) end
end

Headers.__newindex = function(t, key, value)
    if type(key) == "string" then
        local k = header_key(t, key)
        if k ~= nil then
            rawset(t, k, value)
            return
        end
    end
    rawset(t, key, value)
end

local function new_headers(initial)
    local headers = {}
    if initial ~= nil then
        if type(initial) ~= "table" then
            error("headers must be a table, got " .. type(initial), 3)
        end
        -- Filled before the metatable is set, so without metamethod calls;
        -- names that differ only in case still become one header.
        for k, v in pairs(initial) do
            headers[type(k) == "string" and header_key(headers, k) or k] = v
        end
    end
    return setmetatable(headers, Headers)
end
M.NoCaseDict = new_headers

---------------------------------------------------------------------------
-- URL decoding, query strings and multi-dicts
---------------------------------------------------------------------------
local function hex_byte(h)
    return string.char(tonumber(h, 16))
end

local function percent_decode(s)
    if find(s, "%", 1, true) == nil then return s end
    return (s:gsub("%%(%x%x)", hex_byte))
end

local function form_decode(s)
    if s:find("+", 1, true) ~= nil then s = s:gsub("+", " ") end
    return percent_decode(s)
end
M.urldecode = form_decode

function M.urlencode(s)
    return (s:gsub("[^%w%-%._~ ]", function(c)
        return string.format("%%%02X", c:byte())
    end):gsub(" ", "+"))
end

-- A multi-dict: `md.key` is the first value; all of them are in getlist().
local MultiDict = {}
local multidict_lists = setmetatable({}, { __mode = "k" })
MultiDict.__index = MultiDict

local function new_multidict()
    local md = setmetatable({}, MultiDict)
    multidict_lists[md] = {}
    return md
end

local function multidict_add(md, key, value)
    local lists = multidict_lists[md]
    local list = lists[key]
    if list == nil then
        lists[key] = { value }
        rawset(md, key, value)
    else
        list[#list + 1] = value
    end
end

-- `convert` signals a value it cannot convert the Lua way, by returning nil
-- (as tonumber does): the default is used. An error it raises propagates,
-- as in Microdot.
function MultiDict:get(key, default, convert)
    local value = rawget(self, key)
    if value == nil then return default end
    if convert ~= nil then
        local converted = convert(value)
        if converted == nil then return default end
        return converted
    end
    return value
end

function MultiDict:getlist(key, convert)
    local list = multidict_lists[self][key]
    local out = {}
    if list == nil then return out end
    for _, value in ipairs(list) do
        if convert ~= nil then
            local converted = convert(value)
            if converted ~= nil then out[#out + 1] = converted end
        else
            out[#out + 1] = value
        end
    end
    return out
end

local function parse_urlencoded(s)
    local md = new_multidict()
    if s == nil or s == "" then return md end
    for pair in s:gmatch("[^&]+") do
        local eq = pair:find("=", 1, true)
        if eq then
            multidict_add(md, form_decode(pair:sub(1, eq - 1)), form_decode(pair:sub(eq + 1)))
        else
            multidict_add(md, form_decode(pair), "")
        end
    end
    return md
end
M.MultiDict = new_multidict

---------------------------------------------------------------------------
-- Errors: abort() raises an HTTPException; error classes are metatables.
---------------------------------------------------------------------------
local HTTPException = {}
HTTPException.__index = HTTPException
HTTPException.__tostring = function(e)
    return "HTTPException: " .. tostring(e.status_code)
end
M.HTTPException = HTTPException

function M.abort(status_code, reason)
    status_code = math_tointeger(status_code)
    if status_code == nil then error("abort expects an integer status code", 2) end
    error(setmetatable({ status_code = status_code, reason = reason or (status_code .. " error") },
        HTTPException), 0)
end

-- The class an error value belongs to, then its ancestors through __index.
local function parent_class(class)
    local mt = getmetatable(class)
    if type(mt) == "table" then
        local index = rawget(mt, "__index")
        if type(index) == "table" and index ~= class then return index end
    end
end

---------------------------------------------------------------------------
-- Responses
---------------------------------------------------------------------------
local Response = {}
Response.__index = Response
Response.__name = "microdot.Response"
Response.default_content_type = "text/plain"
Response.default_send_file_max_age = nil
Response.types_map = {
    css = "text/css",
    gif = "image/gif",
    html = "text/html",
    jpg = "image/jpeg",
    js = "application/javascript",
    json = "application/json",
    png = "image/png",
    txt = "text/plain",
    svg = "image/svg+xml",
}
M.Response = Response

-- A file to be streamed from disk by the host: path and size, never the bytes.
local FileBody = {}
FileBody.__index = FileBody
FileBody.__name = "microdot.FileBody"

local function is_response(v)
    if type(v) ~= "table" then return false end
    local mt = getmetatable(v)
    for _ = 1, 32 do
        if mt == Response then return true end
        if type(mt) ~= "table" then return false end
        mt = parent_class(mt)
    end
    return false
end
M.is_response = is_response

local function new_response(class, nargs, body, status_code, headers, reason)
    if nargs == 0 then body = "" end
    if status_code == nil then status_code = 200 end
    local status = math_tointeger(status_code)
    if status == nil or status < 100 or status > 999 then
        error("invalid status code: " .. tostring(status_code), 3)
    end
    if body == nil then
        if status == 200 then status = 204 end
        body = ""
    end
    headers = new_headers(headers)
    local kind = type(body)
    if kind == "table" and getmetatable(body) ~= FileBody then
        body = core.json.encode(body)
        if headers["Content-Type"] == nil then
            headers["Content-Type"] = "application/json; charset=UTF-8"
        end
    elseif kind == "number" then
        body = tostring(body)
    elseif kind ~= "string" and kind ~= "function" and kind ~= "thread" and kind ~= "table" then
        error("a response body cannot be a " .. kind, 3)
    end
    if reason ~= nil and type(reason) ~= "string" then
        error("reason must be a string", 3)
    end
    return setmetatable({ status_code = status, headers = headers, body = body, reason = reason },
        class)
end

setmetatable(Response, {
    __call = function(class, ...)
        return new_response(class, select("#", ...), ...)
    end,
})

function Response.new(...)
    return new_response(Response, select("#", ...), ...)
end

local function cookie_number(v)
    return tostring(math_tointeger(v) or v)
end

local function set_if(value)
    return value ~= nil and value ~= false and value ~= ""
end

function Response:set_cookie(cookie, value, options)
    options = options or {}
    cookie, value = tostring(cookie), tostring(value)
    if value:find(";", 1, true) then error("invalid cookie value", 2) end
    local parts = { cookie .. "=" .. value }
    if set_if(options.path) then parts[#parts + 1] = "Path=" .. options.path end
    if set_if(options.domain) then parts[#parts + 1] = "Domain=" .. options.domain end
    if set_if(options.expires) then
        local expires = options.expires
        if type(expires) == "number" then expires = core.http_date(expires) end
        parts[#parts + 1] = "Expires=" .. tostring(expires)
    end
    if options.max_age ~= nil then parts[#parts + 1] = "Max-Age=" .. cookie_number(options.max_age) end
    if options.secure then parts[#parts + 1] = "Secure" end
    if options.http_only then parts[#parts + 1] = "HttpOnly" end
    if set_if(options.same_site) then parts[#parts + 1] = "SameSite=" .. options.same_site end
    if options.partitioned then parts[#parts + 1] = "Partitioned" end
    local header = concat(parts, "; ")
    if header:find("[\r\n]") then error("invalid cookie", 2) end
    local existing = self.headers["Set-Cookie"]
    if type(existing) == "table" then
        existing[#existing + 1] = header
    elseif existing ~= nil then
        self.headers["Set-Cookie"] = { existing, header }
    else
        self.headers["Set-Cookie"] = { header }
    end
end

function Response:delete_cookie(cookie, options)
    local copy = {}
    for k, v in pairs(options or {}) do copy[k] = v end
    copy.expires = "Thu, 01 Jan 1970 00:00:01 GMT"
    copy.max_age = 0
    return self:set_cookie(cookie, "", copy)
end

-- What Microdot's Response.complete() does; the host adds Content-Length.
local default_type_set, default_type -- Response.default_content_type, completed

local function default_content_type()
    local content_type = Response.default_content_type
    if content_type ~= default_type_set then
        default_type_set = content_type
        default_type = content_type:find("charset=", 1, true) and content_type
            or content_type .. "; charset=UTF-8"
    end
    return default_type
end

local function complete(res)
    local headers = res.headers
    if getmetatable(headers) ~= Headers then
        headers = new_headers(headers)
        res.headers = headers
    end
    if rawget(headers, "Content-Type") == nil and header_key(headers, "Content-Type") == nil then
        rawset(headers, "Content-Type", default_content_type())
    end
end

function M.redirect(location, status_code)
    location = tostring(location)
    if location:find("[\r\n]") then error("invalid redirect URL", 2) end
    return new_response(Response, 3, "", status_code or 302, { Location = location })
end
Response.redirect = M.redirect

local function resolve_path(filename)
    if filename:sub(1, 1) == "/" or core.root == nil then return filename end
    return core.root .. "/" .. filename
end
M.resolve_path = resolve_path

function M.send_file(filename, options)
    options = options or {}
    if type(filename) ~= "string" then error("send_file expects a file name", 2) end
    local content_type = options.content_type
    if content_type == nil then
        local name = filename
        if options.compressed and name:sub(-3) == ".gz" then name = name:sub(1, -4) end
        local ext = name:match("%.([^./]*)$") or name
        content_type = Response.types_map[ext] or "application/octet-stream"
    end
    local headers = { ["Content-Type"] = content_type }
    local max_age = options.max_age
    if max_age == nil then max_age = Response.default_send_file_max_age end
    if max_age ~= nil then headers["Cache-Control"] = "max-age=" .. cookie_number(max_age) end
    if options.compressed then
        headers["Content-Encoding"] = type(options.compressed) == "string" and options.compressed
            or "gzip"
    end
    local path = resolve_path(filename .. (options.file_extension or ""))
    -- One stat, not an open: the host opens the file once, to send it.
    local size, err = core.file_size(path)
    if size == nil then error(path .. ": " .. err, 2) end
    local body = setmetatable({ path = path, size = size }, FileBody)
    return new_response(Response, 3, body, options.status_code or 200, headers)
end
Response.send_file = M.send_file

---------------------------------------------------------------------------
-- URL patterns
---------------------------------------------------------------------------
local URLPattern = {}
URLPattern.__index = URLPattern
M.URLPattern = URLPattern

-- Segment types that compile to Lua patterns; registered ones use regexes.
local builtin_segments = {
    string = { lua = "([^/]+)", regex = "([^/]+)" },
    int = { lua = "(%-?%d+)", regex = "(-?\\d+)", parser = function(s) return math_tointeger(tonumber(s)) end },
    path = { lua = "(.+)", regex = "(.+)" },
}
local custom_segments = {}

function URLPattern.register_type(type_name, pattern, parser)
    if type(type_name) ~= "string" then error("register_type expects a type name", 2) end
    pattern = pattern or "[^/]+"
    core.regex_compile("(" .. pattern .. ")") -- raises on a bad pattern
    custom_segments[type_name] = { regex = "(" .. pattern .. ")", parser = parser }
end

local function lua_escape(s)
    return (s:gsub("%p", "%%%0"))
end

local function regex_escape(s)
    return (s:gsub("[%.%^%$%|%?%*%+%(%)%[%]%{%}\\]", "\\%0"))
end

function URLPattern.new(url_pattern)
    if type(url_pattern) ~= "string" then error("a URL pattern must be a string", 3) end
    local segments, lua_parts, regex_parts, uses_regex = {}, {}, {}, false
    local body = url_pattern:gsub("^/+", "")
    for segment in (body .. "/"):gmatch("([^/]*)/") do
        if segment:sub(1, 1) == "<" then
            if segment:sub(-1) ~= ">" then error("invalid URL pattern: " .. url_pattern, 3) end
            local inner = segment:sub(2, -2)
            local type_name, name = inner:match("^(.*):([^:]*)$")
            if type_name == nil then type_name, name = "string", inner end
            if name == "" then error("invalid URL pattern: " .. url_pattern, 3) end
            local spec
            if type_name:sub(1, 3) == "re:" then
                spec = { regex = "(" .. type_name:sub(4) .. ")" }
                core.regex_compile(spec.regex)
            else
                spec = custom_segments[type_name] or builtin_segments[type_name]
                if spec == nil then error("invalid URL segment type: " .. type_name, 3) end
            end
            if spec.lua == nil then uses_regex = true end
            segments[#segments + 1] = { name = name, parser = spec.parser }
            lua_parts[#lua_parts + 1] = "/" .. (spec.lua or "")
            regex_parts[#regex_parts + 1] = "/" .. spec.regex
        else
            lua_parts[#lua_parts + 1] = "/" .. lua_escape(segment)
            regex_parts[#regex_parts + 1] = "/" .. regex_escape(segment)
        end
    end
    local self = setmetatable({ url_pattern = url_pattern, segments = segments }, URLPattern)
    if uses_regex then
        self.regex = core.regex_compile("^" .. concat(regex_parts) .. "$")
    else
        self.lua_pattern = "^" .. concat(lua_parts) .. "$"
    end
    self.literal = #segments == 0 and ("/" .. body) or nil
    return self
end

local function convert_args(self, ...)
    local segments = self.segments
    local values = { ... }
    for i = 1, #segments do
        local parser = segments[i].parser
        if parser ~= nil then
            local value = parser(values[i])
            if value == nil then return nil end
            values[i] = value
        end
    end
    return values
end

local function convert_match(self, first, ...)
    if first == nil then return nil end
    return convert_args(self, first, ...)
end

-- What a pattern without segments matches with; never changed.
local NO_ARGS = setmetatable({}, { __newindex = function() error("read-only", 2) end })

-- The URL arguments in pattern order, or nil when the path does not match.
function URLPattern:match(path)
    if self.literal ~= nil then
        if path == self.literal then return NO_ARGS end
        return nil
    end
    if self.lua_pattern ~= nil then
        return convert_match(self, match(path, self.lua_pattern))
    end
    local captures = core.regex_match(self.regex, path)
    if captures == nil then return nil end
    return convert_args(self, unpack(captures, 1, #self.segments))
end

---------------------------------------------------------------------------
-- Requests
---------------------------------------------------------------------------
local Request = {}
Request.__name = "microdot.Request"
Request.max_content_length = 16 * 1024 * 1024
Request.max_body_length = 16 * 1024 * 1024
Request.max_readline = 8 * 1024
M.Request = Request

local request_fields = {}

function request_fields.args(req)
    return parse_urlencoded(req.query_string)
end

function request_fields.cookies(req)
    local cookies = {}
    local header = req.headers["Cookie"]
    if header ~= nil then
        for part in header:gmatch("[^;]+") do
            local name, value = part:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
            if name == nil then
                name, value = part:match("^%s*(.-)%s*$"), ""
            end
            if name ~= "" then cookies[name] = value end
        end
    end
    return cookies
end

-- A chunked body has no Content-Length header: its length is what arrived.
function request_fields.content_length(req)
    local header = req.headers["Content-Length"]
    if header == nil then return #req.body end
    return math_tointeger(tonumber(header)) or 0
end

function request_fields.content_type(req)
    return req.headers["Content-Type"]
end

-- An uploaded file of a multipart/form-data body.
local FileUpload = {}
FileUpload.__index = FileUpload
FileUpload.__name = "microdot.FileUpload"
M.FileUpload = FileUpload

function FileUpload:read()
    return self.content
end

-- Saves the bytes; a relative path resolves against the script's folder.
function FileUpload:save(path)
    local file, err = io.open(M.resolve_path(path), "wb")
    if file == nil then error(err, 2) end
    file:write(self.content)
    file:close()
end

local function content_type_is(req, expected)
    local content_type = req.content_type
    return content_type ~= nil and content_type:lower():find("^%s*" .. expected) ~= nil
end

local function bad_request()
    M.abort(400, "Bad request")
end

-- Splits a multipart/form-data body: plain fields and file parts.
local function parse_multipart(req)
    local content_type = req.content_type
    local boundary = content_type:match('[Bb]oundary="([^"]+)"') or content_type:match("[Bb]oundary=([^;%s]+)")
    if boundary == nil then bad_request() end
    local body, delimiter = req.body, "--" .. boundary
    local form, files = new_multidict(), new_multidict()
    local start, finish = body:find(delimiter, 1, true)
    if start == nil then bad_request() end
    local position = finish + 1
    while body:sub(position, position + 1) ~= "--" do
        if body:sub(position, position + 1) ~= "\r\n" then bad_request() end
        local head_end = body:find("\r\n\r\n", position + 2, true)
        if head_end == nil then bad_request() end
        local next_part = body:find("\r\n" .. delimiter, head_end + 4, true)
        if next_part == nil then bad_request() end
        local name, filename, part_type
        for line in body:sub(position + 2, head_end + 1):gmatch("(.-)\r\n") do
            local header, value = line:match("^([^:]+):%s*(.-)%s*$")
            header = header and header:lower()
            if header == "content-disposition" then
                name = value:match('[; ]name="([^"]*)"') or value:match("[; ]name=([^;%s]+)")
                filename = value:match('[; ]filename="([^"]*)"') or value:match("[; ]filename=([^;%s]+)")
            elseif header == "content-type" then
                part_type = value
            end
        end
        if name == nil then bad_request() end
        local content = body:sub(head_end + 4, next_part - 1)
        if filename ~= nil then
            multidict_add(files, name, setmetatable({
                filename = filename,
                content_type = part_type or "application/octet-stream",
                content = content,
                size = #content,
            }, FileUpload))
        else
            multidict_add(form, name, content)
        end
        position = next_part + 2 + #delimiter
    end
    return form, files
end

-- A multipart body is parsed once, for both req.form and req.files.
local function multipart_fields(req)
    if not content_type_is(req, "multipart/form%-data") then return nil end
    local form, files = parse_multipart(req)
    rawset(req, "form", form)
    rawset(req, "files", files)
    return form, files
end

function request_fields.form(req)
    if content_type_is(req, "application/x%-www%-form%-urlencoded") then
        return parse_urlencoded(req.body)
    end
    return (multipart_fields(req))
end

function request_fields.files(req)
    local _, files = multipart_fields(req)
    return files
end

function request_fields.json(req)
    if not content_type_is(req, "application/json") then return nil end
    local ok, value = pcall(core.json.decode, req.body)
    if not ok then bad_request() end
    return value
end

function request_fields.g(_)
    return {}
end

function request_fields.url_args(_)
    return {}
end

function request_fields.client_addr(req)
    return { rawget(req, "_host"), rawget(req, "_port") }
end

Request.__index = function(req, key)
    local field = request_fields[key]
    if field ~= nil then
        local value = field(req)
        rawset(req, key, value)
        return value
    end
    return Request[key]
end

function Request:after_request(f)
    local hooks = rawget(self, "_after_request")
    if hooks == nil then
        hooks = {}
        self._after_request = hooks
    end
    hooks[#hooks + 1] = f
    return f
end

local function new_request(app, method, url, http_version, headers, body, host, port)
    local path, query_string = url, nil
    local q = find(url, "?", 1, true)
    if q ~= nil then
        path, query_string = sub(url, 1, q - 1), sub(url, q + 1)
    end
    return setmetatable({
        app = app,
        method = method,
        url = url,
        path = percent_decode(path),
        query_string = query_string,
        http_version = http_version,
        scheme = "http",
        headers = setmetatable(headers, Headers),
        body = body or "",
        url_prefix = "",
        -- Set here so that dispatching does not grow the table.
        subapp = false,
        route = false,
        _host = host,
        _port = port,
    }, Request)
end

---------------------------------------------------------------------------
-- The application
---------------------------------------------------------------------------
local Microdot = {}
Microdot.__index = Microdot
Microdot.__name = "microdot.Microdot"

function M.Microdot()
    return setmetatable({
        url_map = {},
        before_request_handlers = {},
        after_request_handlers = {},
        after_error_request_handlers = {},
        error_handlers = {},
        debug = false,
    }, Microdot)
end
M.new = M.Microdot

local function check_callable(f, what)
    local t = type(f)
    if t == "function" then return end
    local mt = getmetatable(f)
    if t == "table" and type(mt) == "table" and mt.__call ~= nil then return end
    error(what .. " must be a function, got " .. t, 3)
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
    app.url_map[#app.url_map + 1] = route
    return handler
end

function Microdot:route(url_pattern, methods, handler)
    if handler == nil then methods, handler = { "GET" }, methods end
    if type(methods) == "string" then methods = { methods } end
    return add_route(self, url_pattern, methods, handler)
end

for _, method in ipairs({ "get", "post", "put", "patch", "delete" }) do
    local upper = { method:upper() }
    Microdot[method] = function(self, url_pattern, handler)
        return add_route(self, url_pattern, upper, handler)
    end
end

function Microdot:before_request(f)
    check_callable(f, "a before_request handler")
    self.before_request_handlers[#self.before_request_handlers + 1] = f
    return f
end

function Microdot:after_request(f)
    check_callable(f, "an after_request handler")
    self.after_request_handlers[#self.after_request_handlers + 1] = f
    return f
end

function Microdot:after_error_request(f)
    check_callable(f, "an after_error_request handler")
    self.after_error_request_handlers[#self.after_error_request_handlers + 1] = f
    return f
end

function Microdot:errorhandler(status_or_class, f)
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

function Microdot:mount(subapp, url_prefix, options)
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

-- Serves the files under `folder` (relative to the script's folder) at
-- `url_prefix`. Nothing outside the folder is reachable: `..` segments,
-- symlinks that lead out, and (unless options.dotfiles) names starting
-- with a dot answer 404, as do missing files. options: max_age, index
-- (default "index.html"; false for none), dotfiles.
function Microdot:static(url_prefix, folder, options)
    options = options or {}
    if type(url_prefix) ~= "string" or type(folder) ~= "string" then
        error("static expects a URL prefix and a folder", 2)
    end
    local root, kind = core.realpath(resolve_path(folder))
    if kind ~= "directory" then error("static: no folder " .. folder, 2) end
    local index = options.index
    if index == nil then index = "index.html" end
    local prefix = url_prefix:gsub("/+$", "")

    local function inside(path)
        return path == root or path:sub(1, #root + 1) == root .. "/"
    end

    local function serve(req, path)
        if path:find("\0", 1, true) or path:find("\\", 1, true) then M.abort(404) end
        for segment in path:gmatch("[^/]+") do
            if segment == ".." or (segment:sub(1, 1) == "." and not options.dotfiles) then M.abort(404) end
        end
        local full, found = core.realpath(root .. "/" .. path)
        if full ~= nil and found == "directory" and index then
            full, found = core.realpath(full .. "/" .. index)
        end
        if full == nil or found ~= "file" or not inside(full) then M.abort(404) end
        return M.send_file(full, {max_age = options.max_age})
    end

    local function serve_root(req) return serve(req, "") end
    self:get(prefix .. "/<path:path>", serve)
    self:get(prefix .. "/", serve_root)
    if prefix ~= "" then self:get(prefix, serve_root) end
end

-- The options app:run{} asked for; the host reads them once the script ran.
function Microdot:run(options)
    options = options or {}
    if type(options) ~= "table" then error("app:run expects a table of options", 2) end
    M._run = { app = self, options = options }
end

function Microdot:shutdown()
    core.shutdown()
end

function Microdot.abort(_, status_code, reason)
    return M.abort(status_code, reason)
end

-- The route, its URL arguments and the route again; or nil and 404; or nil,
-- 405 and the last route whose pattern matched (its url prefix and subapp
-- apply to the error, as Microdot).
local function find_route(app, req)
    local method = req.method
    if method == "HEAD" then method = "GET" end
    local path = req.path
    local matched
    local url_map = app.url_map
    for i = 1, #url_map do
        local route = url_map[i]
        local args = route.pattern:match(path)
        if args ~= nil then
            if route.method_set[method] then
                return route, args, route
            end
            matched = route
        end
    end
    if matched ~= nil then return nil, 405, matched end
    return nil, 404
end

local function allowed_methods(app, path)
    local allow, seen = {}, {}
    local function add(m)
        if not seen[m] then
            seen[m] = true
            allow[#allow + 1] = m
        end
    end
    for _, route in ipairs(app.url_map) do
        if route.pattern:match(path) ~= nil then
            for _, m in ipairs(route.methods) do add(m) end
        end
    end
    return allow, seen, add
end

local function options_response(app, req)
    local allow, seen, add = allowed_methods(app, req.path)
    if seen.GET then add("HEAD") end
    add("OPTIONS")
    return new_response(Response, 3, "", 200, { Allow = concat(allow, ", ") })
end

-- Return values become a response, as the table in the spec says.
local function make_response(r1, r2, r3)
    if type(r1) == "string" and r2 == nil then return new_response(Response, 1, r1) end
    if is_response(r1) then return r1 end
    if math_tointeger(r1) ~= nil and type(r1) == "number" then
        return new_response(Response, 3, "", r1, r2)
    end
    if type(r2) == "number" then
        return new_response(Response, 3, r1, r2, r3)
    end
    if type(r2) == "table" then
        return new_response(Response, 3, r1, 200, r2)
    end
    return new_response(Response, 1, r1)
end
M.make_response = make_response

local function handlers_for(app, req, name, local_first)
    local subapp = req.subapp
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

-- An error caught by xpcall, with the traceback taken where it was raised.
local CaughtError = {}

local function catch(err)
    if getmetatable(err) == HTTPException then return err end
    local message = err
    if type(err) ~= "string" then
        local mt = getmetatable(err)
        if mt ~= nil and mt.__tostring ~= nil then
            message = tostring(err)
        else
            message = "(error object is a " .. type(err) .. " value)"
        end
    end
    return setmetatable({ value = err, traceback = debug.traceback(message, 2) }, CaughtError)
end

-- Memory errors skip the message handler: they arrive as the bare message.
local function log_error(caught)
    if getmetatable(caught) == CaughtError then
        core.log_error(caught.traceback)
    else
        core.log_error(tostring(caught))
    end
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

local function class_handler(app, req, err)
    if type(err) ~= "table" then return nil end
    local class = getmetatable(err)
    local subapp = req.subapp
    for _ = 1, 32 do
        if type(class) ~= "table" then return nil end
        local handler = (subapp and subapp.error_handlers[class]) or app.error_handlers[class]
        if handler ~= nil then return handler end
        class = parent_class(class)
    end
end

-- An after-request hook's return values: nil keeps the response.
local function replace_response(res, r1, r2, r3)
    if r1 == nil then return res end
    return make_response(r1, r2, r3)
end

local JSON_TYPE = "application/json; charset=UTF-8"

-- A status a plain response may have: one with a body and a Content-Length.
local function plain_status(r2)
    if r2 == nil then return 200 end
    local status = type(r2) == "number" and math_tointeger(r2) or nil
    if status == nil or status < 200 or status > 599 or status == 204 or status == 304 then return nil end
    return status
end

-- The route's response. When no after-request hook can see the Response
-- object and the handler returns just a string or a plain table (JSON),
-- maybe with a status, the body, its Content-Type and the status come back
-- instead, with no Response built: the host writes them under a prebuilt
-- head, the same bytes `complete` leads to.
local function run_route(app, req, route, args)
    local res
    local before = handlers_for(app, req, "before_request_handlers", false)
    for i = 1, #before do
        local r1, r2, r3 = before[i](req)
        if r1 then
            res = make_response(r1, r2, r3)
            break
        end
    end
    local after
    if res == nil then
        local r1, r2, r3 = route.handler(req, unpack(args, 1, route.arity))
        after = handlers_for(app, req, "after_request_handlers", true)
        local status = r3 == nil and plain_status(r2)
        if status and #after == 0 and rawget(req, "_after_request") == nil then
            local kind = type(r1)
            if kind == "string" then return r1, default_content_type(), status end
            if kind == "table" then
                local mt = getmetatable(r1)
                if mt == nil or mt == json_array_mt then return core.json.encode(r1), JSON_TYPE, status end
            end
        end
        res = make_response(r1, r2, r3)
    end
    after = after or handlers_for(app, req, "after_request_handlers", true)
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

local function internal_error()
    return new_response(Response, 3, "Internal server error", 500)
end

-- Runs `f` protected; an error is logged and becomes nil.
local function protected(f, ...)
    local ok, res = xpcall(f, catch, ...)
    if ok then return res end
    if getmetatable(res) ~= HTTPException then log_error(res) end
    return nil
end

local function handle_error(app, req, err)
    if getmetatable(err) == HTTPException then
        return protected(error_response, app, req, err.status_code, err.reason)
    end
    -- An error an error-class handler answers is the app's business, as in
    -- Flask: only errors that end in a 500 are logged.
    local handler = getmetatable(err) == CaughtError and class_handler(app, req, err.value) or nil
    local res
    if handler ~= nil then
        res = protected(function() return make_response(handler(req, err.value)) end)
    end
    if res == nil then
        log_error(err)
        res = protected(error_response, app, req, 500, "Internal server error")
    end
    return res
end

-- The response to `req`: a Response, or a body, its Content-Type and the
-- status (see run_route).
local function dispatch(app, req, body_too_large)
    local res, completed
    if body_too_large then
        res = protected(error_response, app, req, 413, "Payload too large")
    elseif req.method == "OPTIONS" then
        res = options_response(app, req)
        completed = true
    else
        local route, args, matched = find_route(app, req)
        if matched ~= nil then
            req.url_prefix = matched.url_prefix
            req.subapp = matched.subapp or false
        end
        if route ~= nil then
            req.route = route.handler
            local segments = route.pattern.segments
            if #segments > 0 then
                local url_args = {}
                for i = 1, #segments do url_args[segments[i].name] = args[i] end
                req.url_args = url_args
            end
            local ok, result, content_type, status = xpcall(run_route, catch, app, req, route, args)
            if ok then
                if content_type ~= nil then return result, content_type, status end
                res, completed = result, true
            else
                res = handle_error(app, req, result)
            end
        elseif args == 405 then
            res = protected(error_response, app, req, 405, "Method not allowed")
            if res ~= nil and res.status_code == 405 and res.headers["Allow"] == nil then
                local allow, seen, add = allowed_methods(app, req.path)
                if seen.GET then add("HEAD") end
                add("OPTIONS")
                res.headers["Allow"] = concat(allow, ", ")
            end
        else
            res = protected(error_response, app, req, 404, "Not found")
        end
    end
    if res == nil then res = internal_error() end
    if not completed then
        for _, handler in ipairs(handlers_for(app, req, "after_error_request_handlers", true)) do
            res = protected(function() return replace_response(res, handler(req, res)) end)
                or internal_error()
        end
    end
    return res
end

function Microdot:dispatch_request(req, body_too_large)
    local res, content_type, status = dispatch(self, req, body_too_large)
    if content_type ~= nil then
        return new_response(Response, 3, res, status, { ["Content-Type"] = content_type })
    end
    return res
end

---------------------------------------------------------------------------
-- The host's entry point: one call per request, in its own coroutine.
-- Returns the response; a streaming response is yielded first, then each
-- chunk is yielded while the host resumes with true (false stops it).
---------------------------------------------------------------------------
local function close_stream(body)
    local thread = type(body) == "thread" and body or wrapped_threads[body]
    if thread ~= nil and co_status(thread) == "suspended" then co_close(thread) end
end

local function send_chunk(body, chunk)
    local kind = type(chunk)
    if kind == "number" then
        chunk = tostring(chunk)
    elseif kind ~= "string" then
        error("a stream gave a " .. kind .. " value; chunks must be strings", 0)
    end
    if chunk ~= "" and not co_yield(chunk) then
        close_stream(body)
        return false
    end
    return true
end

local function pump(body)
    if type(body) == "thread" then
        while true do
            local ok, chunk = resume(body)
            if not ok then error(chunk, 0) end
            if co_status(body) == "dead" then return end
            if chunk ~= nil and not send_chunk(body, chunk) then return end
        end
    end
    while true do
        local chunk = body()
        if chunk == nil then return end
        if not send_chunk(body, chunk) then return end
    end
end

local function stream(body)
    local ok, err = xpcall(pump, catch, body)
    if not ok then
        close_stream(body)
        error(getmetatable(err) == CaughtError and err.traceback or err, 0)
    end
end

function M._serve(app, method, url, http_version, headers, body, host, port)
    local req = new_request(app, method, url, http_version, headers, body, host, port)
    local res, content_type, status = dispatch(app, req, body == false)
    if content_type ~= nil then return res, content_type, status end
    local ok, err = pcall(complete, res)
    if not ok then
        core.log_error(tostring(err))
        res = internal_error()
        complete(res)
    end
    local kind = type(res.body)
    if kind == "function" or kind == "thread" then
        if co_yield(res) then
            stream(res.body)
        else
            close_stream(res.body)
        end
        return nil
    end
    return res
end

---------------------------------------------------------------------------
-- The test client: requests dispatched in process through `_serve`, the
-- server's own entry point, and read back from the bytes the server would
-- write (so header checks, Content-Length and HEAD behave as on a socket).
---------------------------------------------------------------------------
local TestResponse = {}
TestResponse.__name = "microdot.TestResponse"
TestResponse.__index = function(res, key)
    if key == "text" then return rawget(res, "body") end
    if key == "json" then
        local content_type = res.headers["Content-Type"]
        if type(content_type) ~= "string" or not content_type:lower():find("^%s*application/json") then
            return nil
        end
        local value = core.json.decode(res.body)
        rawset(res, "json", value)
        return value
    end
end
M.TestResponse = TestResponse

-- Status line and headers; a repeated header becomes an array of values.
local function parse_head(head)
    local status, reason = head:match("^HTTP/1%.%d (%d%d%d) ([^\r]*)")
    local headers = new_headers()
    for name, value in head:gmatch("\r\n([^:\r\n]+): ([^\r\n]*)") do
        local existing = headers[name]
        if existing == nil then
            headers[name] = value
        elseif type(existing) == "table" then
            existing[#existing + 1] = value
        else
            headers[name] = { existing, value }
        end
    end
    return setmetatable({
        status_code = math_tointeger(tonumber(status)),
        reason = reason,
        headers = headers,
        body = "",
    }, TestResponse)
end

local function read_file(path)
    local file, err = io.open(path, "rb")
    if file == nil then error(err, 0) end
    local data = file:read("a")
    file:close()
    return data
end

-- The response (what _serve returned) as a client would read it, and
-- whether chunks follow.
local function receive(method, url, response, content_type, status)
    local ok, bytes, kind = pcall(core.encode_response, method, "1.1", response, content_type, status)
    if not ok then
        core.log_error("invalid response to " .. method .. " " .. url .. ": " .. tostring(bytes))
        bytes, kind = core.encode_response(method, "1.1", internal_error())
    end
    local head_end = bytes:find("\r\n\r\n", 1, true)
    local res = parse_head(bytes:sub(1, head_end + 1))
    if kind == "file" then
        res.body = read_file(response.body.path)
    else
        res.body = bytes:sub(head_end + 4)
    end
    return res, kind == "stream"
end

-- Drives a request's coroutine as the host does. A suspension (sleep, an
-- async host function) is passed up when the caller can yield, else answered
-- at once: time does not pass inside a plain test script.
local function run_request(app, method, url, headers, body)
    local co = co_create(M._serve)
    local results = table.pack(co_resume(co, app, method, url, "1.1", headers, body, "127.0.0.1", 0))
    local res, chunks, failure
    while true do
        local ok, first = results[1], results[2]
        if not ok then
            failure = first
            break
        end
        if co_status(co) == "dead" then
            if first ~= nil then res = receive(method, url, first, results[3], results[4]) end
            break
        end
        if first == SUSPEND then
            if co_isyieldable() then
                results = table.pack(co_resume(co, co_yield(SUSPEND, unpack(results, 3, results.n))))
            elseif results[3] == "async" then
                results = table.pack(co_resume(co, core.await_async(results[4])))
            else
                results = table.pack(co_resume(co, true))
            end
        elseif type(first) == "table" then
            local streams
            res, streams = receive(method, url, first)
            chunks = {}
            results = table.pack(co_resume(co, streams))
        else
            chunks[#chunks + 1] = first
            results = table.pack(co_resume(co, true))
        end
    end
    if chunks ~= nil then res.body = concat(chunks) end
    if failure ~= nil then
        core.log_error("error while handling " .. method .. " " .. url .. ": " .. tostring(failure))
        if res == nil then
            res = receive(method, url, internal_error())
        else
            -- On a socket the connection closes: the body is cut short.
            res.stream_error = tostring(failure)
        end
    end
    return res
end

local TestClient = {}
TestClient.__index = TestClient
TestClient.__name = "microdot.TestClient"

function M.test_client(app, options)
    if getmetatable(app) ~= Microdot then error("test_client expects a Microdot app", 2) end
    options = options or {}
    local client = setmetatable({ app = app, cookies = {}, headers = {} }, TestClient)
    for name, value in pairs(options.cookies or {}) do client.cookies[name] = tostring(value) end
    for name, value in pairs(options.headers or {}) do client.headers[name] = value end
    return client
end

-- Remembers cookies the way a browser would, forgetting deleted ones.
local function update_cookies(client, res)
    local set_cookie = res.headers["Set-Cookie"]
    if set_cookie == nil then return end
    if type(set_cookie) == "string" then set_cookie = { set_cookie } end
    for _, cookie in ipairs(set_cookie) do
        local name, value, attributes = cookie:match("^%s*([^=;]+)=([^;]*)(.*)$")
        if name ~= nil then
            local deleted = false
            for attribute in attributes:gmatch("[^;]+") do
                local key, setting = attribute:match("^%s*([^=]+)=%s*(.-)%s*$")
                key = key and key:lower()
                if key == "max-age" and (math_tointeger(tonumber(setting)) or 0) <= 0 then
                    deleted = true
                elseif key == "expires" and setting:lower():find("01 jan 1970", 1, true) then
                    deleted = true
                end
            end
            client.cookies[name] = (not deleted) and value or nil
        end
    end
end

function TestClient:request(method, path, options)
    options = options or {}
    method = tostring(method):upper()
    local headers = new_headers()
    for name, value in pairs(self.headers) do headers[name] = tostring(value) end
    for name, value in pairs(options.headers or {}) do headers[name] = tostring(value) end
    if headers["Host"] == nil then headers["Host"] = "localhost" end
    local body = options.body
    if options.json ~= nil then
        body = core.json.encode(options.json)
        if headers["Content-Type"] == nil then headers["Content-Type"] = "application/json" end
    end
    if body ~= nil then
        body = tostring(body)
        headers["Content-Length"] = tostring(#body)
    end
    local jar = {}
    for name, value in pairs(self.cookies) do jar[#jar + 1] = name .. "=" .. value end
    if #jar > 0 then
        table.sort(jar)
        local cookie = concat(jar, "; ")
        headers["Cookie"] = headers["Cookie"] and (headers["Cookie"] .. "; " .. cookie) or cookie
    end
    if body ~= nil and #body > math.min(Request.max_content_length, Request.max_body_length) then
        body = false
    end
    local res = run_request(self.app, method, path, headers, body)
    update_cookies(self, res)
    return res
end

for _, method in ipairs({ "get", "post", "put", "patch", "delete", "head", "options" }) do
    local upper = method:upper()
    TestClient[method] = function(self, path, options)
        return self:request(upper, path, options)
    end
end

M._FileBody = FileBody
M._Headers = Headers

return M
