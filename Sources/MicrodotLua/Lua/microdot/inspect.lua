-- What `microdot-lua routes` and `microdot-lua check` read from a loaded
-- app: its routes in matching order, and the templates that do not compile.
local helpers = require("microdot.helpers")

local type, ipairs, tostring = type, ipairs, tostring
local getinfo = debug.getinfo

local M = {}

-- Route handlers added by app:static, by the folder they serve.
local static_folders = setmetatable({}, { __mode = "k" })

--- Records that `handler` serves the files of `folder` (app:static).
---@param handler function
---@param folder string
function M.mark_static(handler, folder)
  static_folders[handler] = folder
end

-- "app.lua:12" for the app's function behind `handler` (through wrappers
-- and __call), "static public/" for app:static's, "?" when unknown. The
-- whole file name, where short_src would cut a long one.
local function handler_name(handler)
  local folder = static_folders[handler]
  if folder ~= nil then return "static " .. (folder:gsub("/*$", "/")) end
  local f = helpers.innermost(handler)
  if type(f) ~= "function" then return "?" end
  local info = getinfo(f, "S")
  if info.what == "C" then return "[C]" end
  local source = info.source
  local first = source:sub(1, 1)
  if first == "@" or first == "=" then source = source:sub(2) end
  return source .. ":" .. tostring(info.linedefined)
end

--- The routes of `app` in matching order (mounted ones with their full
--- pattern): `{methods = {...}, pattern = "/x", handler = "app.lua:5"}`.
---@param app microdot.Microdot
---@return table[]
function M.routes(app)
  local rows = {}
  for i, route in ipairs(app.url_map) do
    rows[i] = { methods = route.methods, pattern = route.pattern.url_pattern, handler = handler_name(route.handler) }
  end
  return rows
end

return M
