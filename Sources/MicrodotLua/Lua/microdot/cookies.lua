-- Set-Cookie values: the parts Response:set_cookie and delete_cookie
-- write, each checked against RFC 6265 so request data cannot add
-- attributes.
local core = require("microdot.core")

local type, tostring, error = type, tostring, error
local concat = table.concat
local math_tointeger = math.tointeger

local M = {}

-- Seconds since the epoch of 0001-01-01 and 9999-12-31 23:59:59.
local FIRST_DATE, LAST_DATE = -62135596800, 253402300799

local function cookie_number(v)
  return tostring(math_tointeger(v) or v)
end

local function set_if(value)
  return value ~= nil and value ~= false and value ~= ""
end

---@class microdot.CookieOptions
---@field path? string
---@field domain? string
---@field expires? string|number an HTTP date, or seconds since the epoch
---@field max_age? integer
---@field secure? boolean
---@field http_only? boolean
---@field same_site? string
---@field partitioned? boolean

-- RFC 6265 section 4.1.1: what each part of a Set-Cookie line may hold.
-- Every check is one anchored class match: linear, no backtracking.
local function is_token(s)
  return s:find("^[%w!#$%%&'*+%-.^_`|~]+$") ~= nil
end

-- cookie-octet: printable ASCII but for space, DQUOTE, comma, semicolon and
-- backslash; the whole value may be in double quotes.
local function is_cookie_value(s)
  local inner = s:match('^"(.*)"$') or s
  return inner:find("^[!#-+%-./0-:<-[%]^-~]*$") ~= nil
end

-- path-value / extension-av: any CHAR but CTLs and ";".
local function is_attribute_value(s)
  return s:find("^[ -:<-~]*$") ~= nil
end

-- domain-value: letters, digits, hyphens and dots (a leading dot is
-- tolerated, as browsers do).
local function is_domain(s)
  return s:find("^[%w%-.]+$") ~= nil
end

-- sane-cookie-date: an IMF-fixdate such as "Thu, 01 Jan 1970 00:00:00 GMT".
local day_names = { Mon = true, Tue = true, Wed = true, Thu = true, Fri = true, Sat = true, Sun = true }
local month_names = {
  Jan = true, Feb = true, Mar = true, Apr = true, May = true, Jun = true,
  Jul = true, Aug = true, Sep = true, Oct = true, Nov = true, Dec = true,
}

local function is_cookie_date(s)
  local day, date, month, hour, minute, second =
    s:match("^(%u%l%l), (%d%d) (%u%l%l) %d%d%d%d (%d%d):(%d%d):(%d%d) GMT$")
  return day ~= nil and day_names[day] ~= nil and month_names[month] ~= nil
    and tonumber(date) >= 1 and tonumber(date) <= 31 and tonumber(hour) <= 23
    and tonumber(minute) <= 59 and tonumber(second) <= 60
end

local same_site_values = { strict = "Strict", lax = "Lax", none = "None" }

-- Raised at the app's set_cookie or delete_cookie call (four levels up:
-- this function, M.header, the Response method, the caller).
local function invalid_cookie(cookie, what, value)
  error(string.format("invalid cookie %q: %s %q is not allowed in a Set-Cookie header (RFC 6265)",
    cookie, what, value), 4)
end

--- The value of a Set-Cookie header for `cookie`=`value` with `options`.
--- Every part is checked against RFC 6265 section 4.1.1; one that does not
--- fit raises at the caller of the Response method that called this.
---@param cookie any
---@param value any
---@param options? microdot.CookieOptions
---@return string
function M.header(cookie, value, options)
  options = options or {}
  cookie, value = tostring(cookie), tostring(value)
  if not is_token(cookie) then invalid_cookie(cookie, "the name", cookie) end
  if not is_cookie_value(value) then invalid_cookie(cookie, "the value", value) end
  local parts = { cookie .. "=" .. value }
  if set_if(options.path) then
    local path = tostring(options.path)
    if not is_attribute_value(path) then invalid_cookie(cookie, "the path", path) end
    parts[#parts + 1] = "Path=" .. path
  end
  if set_if(options.domain) then
    local domain = tostring(options.domain)
    if not is_domain(domain) then invalid_cookie(cookie, "the domain", domain) end
    parts[#parts + 1] = "Domain=" .. domain
  end
  if set_if(options.expires) then
    local expires = options.expires
    if type(expires) == "number" then
      -- An IMF-fixdate has a four-digit year.
      if not (expires >= FIRST_DATE and expires <= LAST_DATE) then
        invalid_cookie(cookie, "the expiry time (seconds since 1970)", tostring(expires))
      end
      expires = core.http_date(expires)
    end
    expires = tostring(expires)
    if not is_cookie_date(expires) then invalid_cookie(cookie, "the expiry date", expires) end
    parts[#parts + 1] = "Expires=" .. expires
  end
  if options.max_age ~= nil then
    local max_age = cookie_number(options.max_age)
    if max_age:find("^%-?%d+$") == nil then invalid_cookie(cookie, "the max_age", max_age) end
    parts[#parts + 1] = "Max-Age=" .. max_age
  end
  if options.secure then parts[#parts + 1] = "Secure" end
  if options.http_only then parts[#parts + 1] = "HttpOnly" end
  if set_if(options.same_site) then
    local same_site = tostring(options.same_site)
    if same_site_values[same_site:lower()] == nil then invalid_cookie(cookie, "the same_site", same_site) end
    parts[#parts + 1] = "SameSite=" .. same_site
  end
  if options.partitioned then parts[#parts + 1] = "Partitioned" end
  return concat(parts, "; ")
end

return M
