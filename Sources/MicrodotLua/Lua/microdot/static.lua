-- Microdot:static, a folder of files served under a URL prefix.
local core = require("microdot.core")
local application = require("microdot.application")
local errors = require("microdot.errors")
local inspect = require("microdot.inspect")
local response = require("microdot.response")
local check_self = errors.check_self

local type, error = type, error
local abort, send_file, resolve_path = errors.abort, response.send_file, response.resolve_path

local Microdot = application.Microdot

--- Serves the files under `folder` (relative to the script's folder) at
--- `url_prefix`. Nothing outside the folder is reachable: `..` segments,
--- symlinks that lead out, and (unless options.dotfiles) names starting
--- with a dot answer 404, as do missing files.
---@param url_prefix string
---@param folder string
---@param options? { max_age?: integer, index?: string|false, dotfiles?: boolean } index defaults to "index.html"
function Microdot:static(url_prefix, folder, options)
  check_self(self, Microdot, "app", "static", "the app")
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
    if path:find("\0", 1, true) or path:find("\\", 1, true) then abort(404) end
    for segment in path:gmatch("[^/]+") do
      if segment == ".." or (segment:sub(1, 1) == "." and not options.dotfiles) then abort(404) end
    end
    local full, found = core.realpath(root .. "/" .. path)
    if full ~= nil and found == "directory" and index then
      full, found = core.realpath(full .. "/" .. index)
    end
    if full == nil or found ~= "file" or not inside(full) then abort(404) end
    return send_file(full, {max_age = options.max_age})
  end

  local function serve_root(req) return serve(req, "") end
  inspect.mark_static(serve, folder)
  inspect.mark_static(serve_root, folder)
  self:get(prefix .. "/<path:path>", serve)
  self:get(prefix .. "/", serve_root)
  if prefix ~= "" then self:get(prefix, serve_root) end
end

return Microdot.static
