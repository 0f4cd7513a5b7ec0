import XCTest

@testable import MicrodotLua

/// `microdot.pg` (spec 17) against a private PostgreSQL started for this
/// class: the type mapping both ways, errors naming the server, timeouts,
/// reconnection after a restart, pool_size seen from pg_stat_activity,
/// transactions, and queries that wait side by side on one worker.
final class PostgresTests: XCTestCase {
    nonisolated(unsafe) private static var postgres: Result<PrivatePostgres, Error>?

    override class func setUp() {
        postgres = Result { try PrivatePostgres() }
    }

    override class func tearDown() {
        if case .success(let postgres) = postgres { postgres.stop() }
        postgres = nil
    }

    private var postgres: PrivatePostgres!
    private var app: TestServer!

    override func setUpWithError() throws {
        postgres = try XCTUnwrap(Self.postgres).get()
        app = try TestServer(source: Self.source(postgres.port, closedPort: try PrivatePostgres.freePort()))
    }

    override func tearDown() {
        app = nil
    }

    private static func source(_ port: Int, closedPort: Int) -> String {
        """
        local microdot = require("microdot")
        local pg = require("microdot.pg")
        local json = microdot.json
        local app = microdot.Microdot()
        local url = "postgres://app:pw@127.0.0.1:\(port)/app"
        local db = pg.connect(url)
        local wide = pg.connect(url, {pool_size = 50})
        local quick = pg.connect(url, {timeout = 0.3})
        local pool = pg.connect("postgresql://pooluser:pw@127.0.0.1:\(port)/app", {pool_size = 3})
        local nowhere = pg.connect("postgres://app:pw@127.0.0.1:\(closedPort)/app", {connect_timeout = 1})
        local at_start = db:query("SELECT 41 + 1 AS answer")[1].answer

        local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
        local function describe(row)
          local out = {}
          for name, v in pairs(row) do
            local t = type(v)
            if v == pg.null then out[name] = {"null"}
            elseif t == "number" then out[name] = {math.type(v), json.encode(v)}
            elseif t == "table" then out[name] = {"table", json.encode(v)}
            elseif name:sub(1, 2) == "by" then out[name] = {t, hex(v)}
            else out[name] = {t, tostring(v)} end
          end
          return out
        end

        app:get("/at-start", function() return tostring(at_start) end)
        app:get("/types-out", function()
          local rows, status = db:query([[SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8,
            1.5::float4 AS f4, 0.1::float4 AS f4b, 0.1::float8 AS f8, 12345678901234567890.12345::numeric AS num,
            (-1.5)::numeric AS neg, 0.000123::numeric AS small, 'NaN'::numeric AS nan, true AS b,
            'héllo'::text AS t, 'v'::varchar AS vc, 'c'::char(3) AS ch, 'nm'::name AS nm,
            'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid AS u, '\\x00ff41'::bytea AS by,
            '{"a":[1,null,"x"]}'::json AS j, '{"b":true,"n":null}'::jsonb AS jb,
            '2024-02-29'::date AS d, '13:45:06.25'::time AS tm, '2024-02-29 13:45:06'::timestamp AS ts,
            '2024-02-29 13:45:06.5+02'::timestamptz AS tz, '1999-12-31 23:59:59'::timestamp AS before2000,
            ARRAY[1,NULL,3]::int4[] AS arr, ARRAY['x','y'] AS tarr, '{}'::int[] AS empty,
            ARRAY['{"k":1}'::jsonb] AS jarr, NULL::int AS nul, '1 day 02:00:00'::interval AS iv,
            'infinity'::timestamp AS inf, 'b'::"char" AS onechar]])
          local out = describe(rows[1])
          out._count, out._command, out._affected = {"number", tostring(#rows)}, {"string", status.command},
            {"number", tostring(status.affected)}
          return out
        end)
        app:get("/types-in", function()
          local rows = db:query([[SELECT $1::int IS NULL AS n1, $2::text IS NULL AS n2,
            pg_typeof($3)::text AS tb, $3 AS b, pg_typeof($4)::text AS ti, $4 AS i,
            pg_typeof($5)::text AS tf, $5 AS f, pg_typeof($6)::text AS ts, $6 AS s,
            pg_typeof($7)::text AS ty, $7 AS by, pg_typeof($8)::text AS tj, $8 AS j, $8->'list' AS jl,
            $9::date AS d, $10::timestamptz AS tz]],
            nil, pg.null, false, 9007199254740993, 2.5, "héllo", pg.bytea("\\0\\255A"),
            {list = {1, 2}, name = "x", none = json.null}, "2024-03-01", "2024-03-01T10:00:00+01:00")
          return describe(rows[1])
        end)
        app:get("/error", function()
          local ok, err = pcall(db.query, db, "SELEC 1")
          return {ok = ok, text = tostring(err), sqlstate = err.sqlstate, server = err.server,
                  message = err.message, class = getmetatable(err) == pg.PostgresError}
        end)
        app:get("/handled", function() db:query("SELECT * FROM missing_table") end)
        app:errorhandler(pg.PostgresError, function(req, e) return {sqlstate = e.sqlstate}, 503 end)
        app:get("/refused", function()
          local _, err = pcall(nowhere.query, nowhere, "SELECT 1")
          return tostring(err)
        end)
        app:get("/bad-call", function()
          local _, err = pcall(function() db:query("SELECT $1", print) end)
          local _, err2 = pcall(function() pg.connect("mysql://x@y/z") end)
          return tostring(err) .. "\\n" .. tostring(err2)
        end)
        app:get("/timeout", function()
          local _, err = pcall(quick.query, quick, "SELECT pg_sleep(3)")
          local after = quick:query("SELECT 1 AS one")[1].one
          return {err = tostring(err), after = after}
        end)
        app:get("/one", function()
          local ok, rows = pcall(db.query, db, "SELECT 1 AS one")
          return ok and "one" or tostring(rows)
        end)
        app:get("/pool-run", function() pool:query("SELECT pg_sleep(0.3)") return "done" end)
        app:get("/pool-count", function()
          local rows = db:query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'pooluser'")
          return tostring(rows[1].n)
        end)
        app:get("/sleep", function() wide:query("SELECT pg_sleep(0.1)") return "slept" end)
        app:get("/tx", function()
          db:query("CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text)")
          db:query("DELETE FROM items")
          local a, b, status = db:transaction(function(tx)
            local _, st = tx:query("INSERT INTO items(name) VALUES ($1), ($2)", "kept", "also")
            return "r1", 2, st
          end)
          local marker = {custom = true}
          local _, err = pcall(db.transaction, db, function(tx)
            tx:query("INSERT INTO items(name) VALUES ($1)", "dropped")
            error(marker)
          end)
          local names = {}
          for i, row in ipairs(db:query("SELECT name FROM items ORDER BY id")) do names[i] = row.name end
          return {a = a, b = b, command = status.command, affected = status.affected,
                  reraised = err == marker, names = names}
        end)
        return app
        """
    }

    private func json(_ target: String) throws -> [String: Any] {
        let response = try app.request(target)
        XCTAssertEqual(response.status, 200, response.text)
        return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
    }

    /// Column → [Lua type, value as text].
    private func described(_ target: String) throws -> [String: [String]] {
        try json(target).mapValues { ($0 as? [Any])?.map { "\($0)" } ?? [] }
    }

    func testTopLevelQueryBlocks() throws {
        XCTAssertEqual(try app.request("/at-start").text, "42")
    }

    func testTypesFromPostgres() throws {
        let row = try described("/types-out")
        let expected: [String: [String]] = [
            "i2": ["integer", "1"], "i4": ["integer", "2"], "i8": ["integer", "9007199254740993"],
            "f4": ["float", "1.5"], "f4b": ["float", "0.1"], "f8": ["float", "0.1"],
            "num": ["string", "12345678901234567890.12345"], "neg": ["string", "-1.5"],
            "small": ["string", "0.000123"], "nan": ["string", "NaN"], "b": ["boolean", "true"],
            "t": ["string", "héllo"], "vc": ["string", "v"], "ch": ["string", "c  "], "nm": ["string", "nm"],
            "u": ["string", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"], "by": ["string", "00ff41"],
            "j": ["table", #"{"a":[1,null,"x"]}"#], "d": ["string", "2024-02-29"], "tm": ["string", "13:45:06.25"],
            "ts": ["string", "2024-02-29T13:45:06"], "tz": ["string", "2024-02-29T11:45:06.5Z"],
            "before2000": ["string", "1999-12-31T23:59:59"], "arr": ["table", "[1,null,3]"],
            "tarr": ["table", #"["x","y"]"#], "empty": ["table", "[]"], "jarr": ["table", #"[{"k":1}]"#],
            "nul": ["null"], "iv": ["string", "1 day 02:00:00"], "inf": ["string", "infinity"],
            "onechar": ["string", "b"], "_count": ["number", "1"], "_command": ["string", "SELECT"],
            "_affected": ["number", "1"],
        ]
        for (name, value) in expected { XCTAssertEqual(row[name], value, name) }
        let jsonb = try XCTUnwrap(row["jb"])
        XCTAssertEqual(jsonb.first, "table")
        XCTAssertTrue(jsonb.last == #"{"b":true,"n":null}"# || jsonb.last == #"{"n":null,"b":true}"#, "\(jsonb)")
    }

    func testTypesToPostgres() throws {
        let row = try described("/types-in")
        let expected: [String: [String]] = [
            "n1": ["boolean", "true"], "n2": ["boolean", "true"],
            "tb": ["string", "boolean"], "b": ["boolean", "false"],
            "ti": ["string", "bigint"], "i": ["integer", "9007199254740993"],
            "tf": ["string", "double precision"], "f": ["float", "2.5"],
            "ts": ["string", "text"], "s": ["string", "héllo"],
            "ty": ["string", "bytea"], "by": ["string", "00ff41"],
            "tj": ["string", "jsonb"], "jl": ["table", "[1,2]"],
            "d": ["string", "2024-03-01"], "tz": ["string", "2024-03-01T09:00:00Z"],
        ]
        for (name, value) in expected { XCTAssertEqual(row[name], value, name) }
        XCTAssertTrue(row["j"]?.last?.contains(#""none":null"#) == true, "\(row["j"] ?? [])")
    }

    func testErrorsNameTheServer() throws {
        let error = try json("/error")
        let server = "127.0.0.1:\(postgres.port)/app"
        XCTAssertEqual(error["ok"] as? Bool, false)
        XCTAssertEqual(error["sqlstate"] as? String, "42601")
        XCTAssertEqual(error["server"] as? String, server)
        XCTAssertEqual(error["class"] as? Bool, true)
        XCTAssertEqual(error["text"] as? String, "postgres \(server): 42601: \(error["message"] as? String ?? "?")")
        XCTAssertTrue((error["message"] as? String ?? "").contains("syntax error"))

        let handled = try app.request("/handled")
        XCTAssertEqual(handled.status, 503)
        XCTAssertEqual(handled.text, #"{"sqlstate":"42P01"}"#)

        XCTAssertTrue(try app.request("/refused").text.hasSuffix("/app: 08001: connection refused"))
        let bad = try app.request("/bad-call").text
        let lines = bad.split(separator: "\n").map(String.init)
        XCTAssertTrue(
            lines.first?.hasPrefix("app.lua:") == true
                && lines.first?.hasSuffix("db:query: parameter $1 cannot be a function") == true, bad)
        XCTAssertTrue(
            lines.last?.hasPrefix("app.lua:") == true
                && lines.last?.contains("pg.connect: a PostgreSQL URL starts with postgres://") == true, bad)
    }

    func testATimeoutDropsTheConnectionAndTheNextCallWorks() throws {
        let start = Date()
        let result = try json("/timeout")
        XCTAssertEqual(result["err"] as? String, "postgres 127.0.0.1:\(postgres.port)/app: 57014: timeout after 0.3 s")
        XCTAssertEqual(result["after"] as? Int, 1)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.5)
    }

    func testReconnectsAfterARestart() throws {
        XCTAssertEqual(try app.request("/one").text, "one")
        try postgres.restart()
        // The pooled connection died with the server: the first call may
        // find it broken (nothing is retried); the next one reconnects.
        let first = try app.request("/one").text
        XCTAssertTrue(first == "one" || first.contains(": 08006: "), first)
        XCTAssertEqual(try app.request("/one").text, "one")
    }

    func testPoolSizeIsNeverExceeded() throws {
        let clients = try (0..<12).map { _ in try app.client() }
        let start = Date()
        for client in clients { try client.send("GET /pool-run HTTP/1.1\r\nHost: x\r\n\r\n") }
        var counts: [Int] = []
        for _ in 0..<4 {
            Thread.sleep(forTimeInterval: 0.2)
            counts.append(Int(try app.request("/pool-count").text) ?? -1)
        }
        for client in clients { XCTAssertEqual(try client.readResponse().text, "done") }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(counts.max(), 3, "pool_size = 3 connections in use, seen from pg_stat_activity: \(counts)")
        XCTAssertGreaterThanOrEqual(elapsed, 1.1, "12 calls of 0.3 s on 3 connections take 4 rounds")
    }

    func testQueriesWaitSideBySideOnOneWorker() throws {
        _ = try app.request("/sleep")
        let clients = try (0..<40).map { _ in try app.client() }
        let start = Date()
        for client in clients { try client.send("GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n") }
        for client in clients { XCTAssertEqual(try client.readResponse().text, "slept") }
        let elapsed = Date().timeIntervalSince(start)
        print("40 concurrent requests, each a 100 ms PostgreSQL query: \(Int(elapsed * 1000)) ms")
        XCTAssertLessThan(elapsed, 2.0, "40 in sequence take 4 s")
    }

    func testTransactionsCommitOrRollBackAndReraise() throws {
        let result = try json("/tx")
        XCTAssertEqual(result["a"] as? String, "r1")
        XCTAssertEqual(result["b"] as? Int, 2)
        XCTAssertEqual(result["command"] as? String, "INSERT")
        XCTAssertEqual(result["affected"] as? Int, 2)
        XCTAssertEqual(result["reraised"] as? Bool, true)
        XCTAssertEqual(result["names"] as? [String], ["kept", "also"])
    }
}
