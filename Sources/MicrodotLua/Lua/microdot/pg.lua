-- microdot.pg: PostgreSQL (spec 17) on vapor/postgres-nio. Pools are per
-- worker and per URL and options, opened by the first query; a query
-- suspends only the calling request's coroutine (at a script's top level
-- it blocks). Failures raise pg.PostgresError tables.
local core = require("microdot.core")
local coroutines = require("microdot.coroutine")
local errors = require("microdot.errors")
local helpers = require("microdot.helpers")

local type, error, select, setmetatable, getmetatable, tostring, pcall =
  type, error, select, setmetatable, getmetatable, tostring, pcall
local math_type, concat, pack, unpack = math.type, table.concat, table.pack, table.unpack
local await, json_encode = coroutines.await, core.json.encode
local check_self = errors.check_self

local M = {}

--- SQL NULL, in rows and as a parameter: the same value as microdot.json.null.
M.null = core.json.null
local null = M.null

--- A PostgreSQL failure: message, server ("host:port/db"), sqlstate (the
--- SQLSTATE; the client's own failures use 08001 cannot connect, 08006
--- connection lost, 57014 timeout), and detail and hint when the server
--- gave them. A class for app:errorhandler.
---@class pg.PostgresError
---@field message string
---@field server string
---@field sqlstate string?
local PostgresError = { __name = "pg.PostgresError" }
PostgresError.__index = PostgresError
PostgresError.__tostring = function(e)
  return "postgres " .. tostring(e.server) .. ": " .. (e.sqlstate and (e.sqlstate .. ": ") or "")
    .. tostring(e.message)
end
--- A PostgresError from its fields (message, server, sqlstate...).
---@param fields table
---@return pg.PostgresError
function PostgresError.new(fields)
  return setmetatable(fields, PostgresError)
end
setmetatable(PostgresError, { __call = function(_, fields) return PostgresError.new(fields) end })
M.PostgresError = PostgresError

local Bytea = { __name = "pg.bytea" }

--- Marks a string to be sent as bytea rather than text.
---@param s string
---@return table
function M.bytea(s)
  if type(s) ~= "string" then error("pg.bytea expects a string, got " .. type(s), 2) end
  return setmetatable({ value = s }, Bytea)
end

---@class pg.Database
local Database = { __name = "pg.Database" }
Database.__index = Database

local function check_seconds(name, value, default)
  if value == nil then return default end
  if value ~= value or value <= 0 or value > 1e6 then
    error("pg.connect: " .. name .. " must be a positive number of seconds, got " .. tostring(value), 3)
  end
  return value
end

--- A handle on the database at `url` (postgres[ql]://user:pw@host[:port]/db
--- [?sslmode=disable|require]); nothing connects until the first query.
--- Options: pool_size (10 connections per worker), connect_timeout (5 s),
--- timeout (30 s per call, the wait for a connection included).
---@param url string
---@param options? { pool_size?: integer, connect_timeout?: number, timeout?: number }
---@return pg.Database
function M.connect(url, options)
  if type(url) ~= "string" then error("pg.connect expects a URL string, got " .. type(url), 2) end
  local problem, server = core.pg_check(url)
  if problem then error("pg.connect: " .. problem, 2) end
  options = helpers.check_options("pg.connect", options,
    { pool_size = "number", connect_timeout = "number", timeout = "number" })
  local pool_size = options.pool_size or 10
  if math_type(pool_size) ~= "integer" or pool_size < 1 or pool_size > 10000 then
    error("pg.connect: pool_size must be an integer from 1 to 10000, got " .. tostring(pool_size), 2)
  end
  return setmetatable({
    url = url, server = server, pool_size = pool_size,
    connect_timeout = check_seconds("connect_timeout", options.connect_timeout, 5),
    timeout = check_seconds("timeout", options.timeout, 30),
  }, Database)
end

-- The parameters as the host reads them: a letter per parameter and the
-- values by position.
local function marshal(what, ...)
  local n = select("#", ...)
  local kinds, values = {}, {}
  for i = 1, n do
    local v = select(i, ...)
    local t = type(v)
    if v == nil or v == null then
      kinds[i] = "n"
    elseif t == "boolean" then
      kinds[i], values[i] = "b", v
    elseif t == "number" then
      kinds[i], values[i] = math_type(v) == "integer" and "i" or "f", v
    elseif t == "string" then
      kinds[i], values[i] = "t", v
    elseif t == "table" and getmetatable(v) == Bytea then
      kinds[i], values[i] = "y", v.value
    elseif t == "table" then
      local ok, encoded = pcall(json_encode, v)
      if not ok then error(what .. ": parameter $" .. i .. ": " .. tostring(encoded), 3) end
      kinds[i], values[i] = "j", encoded
    else
      error(what .. ": parameter $" .. i .. " cannot be a " .. t, 3)
    end
  end
  return concat(kinds), values
end

-- The result of a wait: rows and {command, affected}, or the failure raised.
local function finish(server, ok, result)
  if not ok then error(result, 3) end
  local failure = result.error
  if failure then
    failure.server = server
    error(setmetatable(failure, PostgresError), 3)
  end
  return result.rows, { command = result.command, affected = result.affected }
end

-- Statements that open or end a transaction: on a pooled connection they
-- would leave it inside one (or end db:transaction's), so they are refused.
local TRANSACTION_CONTROL = { BEGIN = true, START = true, COMMIT = true, ROLLBACK = true, END = true, ABORT = true }

local function check_statement(sql, what)
  local keyword = sql:match("^%s*(%a+)")
  if keyword ~= nil and TRANSACTION_CONTROL[keyword:upper()] then
    error(what .. ": " .. keyword:upper() .. " cannot be sent on its own (use db:transaction(f))", 3)
  end
end

--- Runs one statement, binding the arguments to $1, $2...: nil or pg.null
--- NULL, booleans, integers (int8), floats (float8), strings (text),
--- pg.bytea(s), tables (jsonb). BEGIN, COMMIT and the like are refused:
--- db:transaction(f) holds one connection for a transaction.
---@param sql string
---@return table[] rows column -> value
---@return { command: string, affected: integer } status
function Database:query(sql, ...)
  check_self(self, Database, "db", "query", "pg.connect handles")
  if type(sql) ~= "string" then error("db:query expects an SQL string, got " .. type(sql), 2) end
  check_statement(sql, "db:query")
  local kinds, values = marshal("db:query", ...)
  -- Not a tail call: finish's errors name the caller's line (level 3).
  local rows, status = finish(self.server, await(core.pg_query(
    self.url, self.pool_size, self.connect_timeout, self.timeout, sql, kinds, values)))
  return rows, status
end

---@class pg.Transaction
local Transaction = { __name = "pg.Transaction" }
Transaction.__index = Transaction
-- A transaction its request dropped closes its connection (a rollback).
Transaction.__gc = function(tx)
  if not tx.done then core.pg_abandon(tx.id) end
end

--- A statement inside the transaction, as db:query.
---@param sql string
function Transaction:query(sql, ...)
  check_self(self, Transaction, "tx", "query", "transactions")
  if type(sql) ~= "string" then error("tx:query expects an SQL string, got " .. type(sql), 2) end
  if self.done then error("tx:query: the transaction has ended", 2) end
  check_statement(sql, "tx:query")
  local kinds, values = marshal("tx:query", ...)
  local rows, status = finish(self.server, await(core.pg_tx_query(self.id, self.timeout, sql, kinds, values)))
  return rows, status
end

local function end_transaction(tx, commit)
  tx.done = true
  return await(core.pg_end(tx.id, commit, tx.timeout))
end

--- Runs f(tx) inside BEGIN ... COMMIT on one connection and returns what f
--- returns; when f raises, ROLLBACK, and the error is raised again as it
--- was. Transactions do not nest.
---@param f fun(tx: pg.Transaction): ...
function Database:transaction(f)
  check_self(self, Database, "db", "transaction", "pg.connect handles")
  if not helpers.callable(f) then error("db:transaction expects a function", 2) end
  local ok, begun = await(core.pg_begin(self.url, self.pool_size, self.connect_timeout, self.timeout))
  if not ok then error(begun, 2) end
  if begun.error then
    begun.error.server = self.server
    error(setmetatable(begun.error, PostgresError), 2)
  end
  local tx = setmetatable({ id = begun.id, server = self.server, timeout = self.timeout, done = false },
    Transaction)
  local results = pack(pcall(f, tx))
  if not results[1] then
    end_transaction(tx, false)
    error(results[2], 0)
  end
  local ended, status = end_transaction(tx, true)
  if not ended then error(status, 2) end
  if status.error then
    status.error.server = self.server
    error(setmetatable(status.error, PostgresError), 2)
  end
  return unpack(results, 2, results.n)
end

return M
