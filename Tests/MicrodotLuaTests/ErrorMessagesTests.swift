import XCTest

@testable import MicrodotLua

/// Issue 12: errors a script author causes name their file:line (and the
/// route at run time) and what to do; `microdot.log` and `print` capture.
final class ErrorMessagesTests: AppTestCase {
    private let app = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:get("/boolean", function(req) return true end)
        app:get("/function", function(req) return {f = print} end)
        app:get("/string-status", function(req) return "hi", "201" end)
        app:get("/boolean-status", function(req) return "hi", true end)
        app:get("/bad-status", function(req) return "hi", 1000 end)
        app:get("/made", function(req) return microdot.make_response("x", "201") end)
        app:get("/gen-fails", function(req)
          return coroutine.wrap(function() error("failed before any chunk") end)
        end)
        app:get("/fn-fails", function(req)
          return function() error("failed at once") end
        end)
        app:get("/gen-bad-chunk", function(req)
          return coroutine.wrap(function() coroutine.yield(true) end)
        end)
        app:get("/gen-ok", function(req)
          return coroutine.wrap(function() coroutine.yield("a"); coroutine.yield("b") end)
        end)
        app:get("/gen-empty", function(req) return coroutine.wrap(function() end) end)
        app:get("/text", function(req) return "text" end)
        return app
        """

    private func expect500(
        _ client: AppClient, _ path: String, headers: [String: String] = [:], logs expected: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let response = try await client.get(path, headers: headers)
        XCTAssertEqual(response.status, 500, path, file: file, line: line)
        XCTAssertEqual(response.text, "Internal server error", path, file: file, line: line)
        let log = client.log.text
        for text in expected {
            XCTAssertTrue(log.contains(text), "\(path): \(text) not in \(log)", file: file, line: line)
        }
        let next = try await client.get("/text")
        XCTAssertEqual(next.text, "text", "serving goes on", file: file, line: line)
    }

    func testReturnValueErrorsNameTheRouteAndTheHandler() async throws {
        try await withApp(app) { client in
            try await expect500(
                client, "/boolean",
                logs: [
                    "GET /boolean (route /boolean, handler app.lua:3): app.lua:3: a response body cannot be a boolean",
                    "return a string, a table",
                ])
            try await expect500(
                client, "/function",
                logs: [
                    "GET /function (route /function, handler app.lua:4): app.lua:4: cannot encode a function value as JSON"
                ])
        }
    }

    func testAStatusMustBeAnInteger() async throws {
        try await withApp(app) { client in
            try await expect500(
                client, "/string-status",
                logs: [
                    "(route /string-status, handler app.lua:5): app.lua:5: a status code must be an integer, got the string \"201\"",
                    "return body, 201",
                ])
            try await expect500(
                client, "/boolean-status", logs: ["app.lua:6: a status code must be an integer, got a boolean"])
            try await expect500(client, "/bad-status", logs: ["app.lua:7: invalid status code: 1000"])
            try await expect500(client, "/made", logs: ["app.lua:8: a status code must be an integer"])
        }
    }

    func testAStreamFailingAtOnceIsACleanFiveHundred() async throws {
        try await withApp(app) { client in
            try await expect500(
                client, "/gen-fails",
                logs: ["(route /gen-fails, handler app.lua:9): app.lua:10: failed before any chunk"])
            try await expect500(client, "/fn-fails", logs: ["app.lua:13: failed at once"])
            try await expect500(
                client, "/gen-bad-chunk", logs: ["a stream gave a boolean value; chunks must be strings"])
            let streamed = try await client.get("/gen-ok")
            XCTAssertEqual(streamed.status, 200)
            XCTAssertEqual(streamed.text, "ab", "the first chunk is sent after the head")
            let empty = try await client.get("/gen-empty")
            XCTAssertEqual(empty.status, 200)
            XCTAssertEqual(empty.text, "")
            let head = try await client.request("/gen-ok", method: "HEAD")
            XCTAssertEqual(head.status, 200)
        }
    }

    func testATracebackIsOneIndentedRecordWithTheWorkerAndRequest() async throws {
        try await withApp(app) { client in
            _ = try await client.get("/boolean")
            let record = client.log.text.components(separatedBy: "\nerror: ").first { $0.contains("/boolean") }!
            XCTAssertTrue(record.contains("\n    stack traceback:"), record)
            XCTAssertTrue(record.contains("request=1-"), record)
            XCTAssertTrue(record.contains("worker=1"), record)
        }
    }

    // MARK: Wrapped handlers

    /// Each extension's wrapper (and a user's decorator recorded with
    /// `helpers.wraps`, a callable table, wrappers nested) is seen through:
    /// the log names the app's own function, not the wrapper's module.
    private let wrappedApp = """
        local microdot = require("microdot")
        local session = require("microdot.session")
        local auth = require("microdot.auth")
        local Login = require("microdot.login").Login
        local with_sse = require("microdot.sse").with_sse
        local helpers = require("microdot.helpers")
        local app = microdot.Microdot()
        session.Session(app, {secret_key = "k"})
        local login = Login()
        login:user_loader(function(id) return {id = id} end)
        app:before_request(function(req)
          local s = app._session:get(req)
          s._user_id, s._fresh = 1, true
        end)
        local basic = auth.BasicAuth()
        basic:authenticate(function() return {name = "u"} end)
        local token = auth.TokenAuth()
        token:authenticate(function() return "t" end)
        local function logged(f) return helpers.wraps(function(req, ...) return f(req, ...) end, f) end
        local callable = setmetatable({}, {__call = function(_, req)
          error("callable failed")
        end})
        app:get("/session", session.with_session(function(req, s)
          error("session failed")
        end))
        app:get("/sse", with_sse(function(req, sse)
          error("sse failed")
        end))
        app:get("/sse-late", with_sse(function(req, sse)
          sse:send("one")
          error("late failed")
        end))
        app:get("/login", login(function(req)
          error("login failed")
        end))
        app:get("/fresh", login:fresh(function(req)
          error("fresh failed")
        end))
        app:get("/basic", basic(function(req)
          error("basic failed")
        end))
        app:get("/optional", basic:optional(function(req)
          error("optional failed")
        end))
        app:get("/token", token(function(req)
          error("token failed")
        end))
        app:get("/nested", login(session.with_session(logged(function(req, s)
          error("nested failed")
        end))))
        app:get("/callable", callable)
        app:get("/returns", session.with_session(function(req, s)
          return true
        end))
        app:get("/text", function(req) return "text" end)
        return app
        """

    func testErrorsInWrappedHandlersNameTheAppsFunction() async throws {
        // (path, line of the handler, line of the error)
        let cases: [(String, Int, Int)] = [
            ("/session", 23, 24),
            ("/login", 33, 34),
            ("/fresh", 36, 37),
            ("/basic", 39, 40),
            ("/optional", 42, 43),
            ("/token", 45, 46),
            ("/nested", 48, 49),
            ("/callable", 20, 21),
        ]
        let credentials = ["/basic": "Basic dTpw", "/optional": "Basic dTpw", "/token": "Bearer t"]
        try await withApp(wrappedApp) { client in
            for (path, handler, line) in cases {
                let name = path.dropFirst()
                try await expect500(
                    client, path, headers: credentials[path].map { ["Authorization": $0] } ?? [:],
                    logs: ["GET \(path) (route \(path), handler app.lua:\(handler)): app.lua:\(line): \(name) failed"])
            }
            try await expect500(
                client, "/returns",
                logs: [
                    "GET /returns (route /returns, handler app.lua:52): app.lua:52: a response body cannot be a boolean"
                ])
            // An event stream failing before its first event is a 500; one
            // failing later is cut. Both name the handler.
            _ = try await client.get("/sse")
            _ = try? await client.get("/sse-late")
            let log = client.log.text
            XCTAssertTrue(log.contains("GET /sse (route /sse, handler app.lua:26): app.lua:27: sse failed"), log)
            XCTAssertTrue(
                log.contains(
                    "error while handling GET /sse-late (route /sse-late, handler app.lua:29): app.lua:31: late failed"),
                log)
            XCTAssertFalse(log.contains("handler microdot/"), log)
        }
    }

    // MARK: Mistakes found at start-up

    private func startupError(_ lua: String) -> String {
        do {
            _ = try Worker(app: MicrodotApp(source: lua, name: "app.lua"), logger: LogCapture().logger)
            return "no error"
        } catch let error as LuaError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    func testADotInsteadOfAColonSaysDidYouMean() {
        for method in [
            "get", "post", "put", "patch", "delete", "route", "before_request", "after_request",
            "after_error_request", "errorhandler", "mount", "run",
        ] {
            let message = startupError(
                """
                local app = require("microdot").Microdot()
                app.\(method)("/", function() return "x" end)
                return app
                """)
            XCTAssertTrue(
                message.hasPrefix(
                    "app.lua:2: app.\(method)(...) was called with a dot: did you mean app:\(method)(...)?"), message)
        }
    }

    func testARepeatedArgumentNameIsAnError() {
        let message = startupError(
            """
            local app = require("microdot").Microdot()
            app:get("/<int:id>/<int:id>", function() return "x" end)
            return app
            """)
        XCTAssertTrue(
            message.hasPrefix(
                "app.lua:2: invalid URL pattern /<int:id>/<int:id>: the argument name \"id\" is used twice"), message)
    }

    func testOtherStartupMistakesNameTheScriptsLine() {
        let cases: [(String, String)] = [
            (
                #"app:get("/<re:[:x>", function() end)"#,
                "app.lua:2: invalid URL pattern /<re:[:x>: invalid regular expression"
            ),
            ("app:mount(42)", "app.lua:2: mount expects a Microdot app, got number"),
            (#"app:mount(require("microdot").Microdot(), 5)"#, "app.lua:2: mount expects a URL prefix string"),
            ("microdot.shared:set({}, 1)", "app.lua:2: shared:set expects a string key"),
            (#"microdot.shared:incr("k", "x")"#, "app.lua:2: shared:incr expects a number to add"),
            (#"microdot.shared:set("k", print)"#, "app.lua:2: shared:set stores strings, numbers, booleans and tables"),
            ("microdot.Response(true)", "app.lua:2: a response body cannot be a boolean"),
            ("microdot.Response.new(true)", "app.lua:2: a response body cannot be a boolean"),
            (#"microdot.make_response("x", "201")"#, "app.lua:2: a status code must be an integer"),
        ]
        for (line, expected) in cases {
            let message = startupError(
                """
                local microdot = require("microdot"); local app = microdot.Microdot()
                \(line)
                return app
                """)
            XCTAssertTrue(message.hasPrefix(expected), "\(line): \(message)")
        }
    }

    func testTheSameRouteTwiceIsAWarning() async throws {
        let lua = """
            local app = require("microdot").Microdot()
            app:get("/a", function() return "first" end)
            app:post("/a", function() return "post" end)
            app:route("/a", {"GET", "PUT"}, function() return "second" end)
            app:get("/b", function() return "b" end)
            return app
            """
        try await withApp(lua) { client in
            let first = try await client.get("/a")
            XCTAssertEqual(first.text, "first")
            let log = client.log.text
            XCTAssertTrue(
                log.contains(
                    "warning: the route GET /a is registered twice; the first one (handler app.lua:2) answers"),
                log)
            XCTAssertTrue(log.contains("lua=app.lua:4"), log)
            XCTAssertFalse(log.contains("POST /a"), log)
            XCTAssertFalse(log.contains("/b"), log)
        }
    }

    func testCORSWithAnyOriginAndCredentialsWarnsAtStartup() async throws {
        let lua = """
            local microdot = require("microdot")
            local CORS = require("microdot.cors").CORS
            local app = microdot.Microdot()
            CORS(app, {allowed_origins = "*", allow_credentials = true})
            CORS(nil, {allowed_origins = "*"})
            CORS(nil, {allowed_origins = {"https://a.com"}, allow_credentials = true})
            app:get("/", function(req) return "ok" end)
            return app
            """
        try await withApp(lua) { client in
            let response = try await client.get("/", headers: ["Origin": "null"])
            XCTAssertEqual(response.header("Access-Control-Allow-Origin"), "null", "Microdot's behaviour is kept")
            XCTAssertEqual(response.header("Access-Control-Allow-Credentials"), "true")
            let log = client.log.text
            let warnings = log.components(separatedBy: "\n").filter { $0.contains("warning: CORS:") }
            XCTAssertEqual(warnings.count, 1, log)
            XCTAssertTrue(
                warnings.first?.contains(
                    #"warning: CORS: allowed_origins = "*" with allow_credentials = true echoes every Origin"#)
                    ?? false,
                log)
            XCTAssertTrue(warnings.first?.contains("lua=app.lua:4") ?? false, log)
        }
    }

    // MARK: microdot.log

    func testMicrodotLogGoesToTheLoggerWithWorkerRequestAndLine() async throws {
        let lua = """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            microdot.log.info("loaded", 1)
            app:get("/", function(req)
              microdot.log.warn("warned", {} ~= nil)
              microdot.log.error("failed")
              microdot.log.debug("hidden at info level")
              print("to stdout")
              microdot.log.capture_print()
              print("captured", 2)
              microdot.log.capture_print(false)
              return "ok"
            end)
            return app
            """
        try await withApp(lua) { client in
            let response = try await client.get("/")
            XCTAssertEqual(response.text, "ok")
            let log = client.log.text
            XCTAssertTrue(log.contains("info: loaded 1 [lua=app.lua:3 worker=1]"), log)
            XCTAssertTrue(
                log.range(
                    of: #"warning: warned true \[lua=app\.lua:5 request=1-\d+ worker=1\]"#, options: .regularExpression)
                    != nil, log)
            XCTAssertTrue(log.contains("error: failed [lua=app.lua:6 request=1-"), log)
            XCTAssertFalse(log.contains("hidden"), log)
            XCTAssertFalse(log.contains("to stdout"), log)
            XCTAssertTrue(log.contains("info: captured\t2 [lua=app.lua:10 request=1-"), log)
        }
    }
}
