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
                client, "/gen-bad-chunk",
                logs: [
                    "(route /gen-bad-chunk, handler app.lua:15): app.lua:15: a stream gave a boolean (true); "
                        + "chunks must be strings"
                ])
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

    // MARK: Responses checked where they are final

    private let invalidResponses = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:errorhandler(500, function(req) return "the app's 500", 500 end)
        app:after_error_request(function(req, res) res.headers["X-After-Error"] = "ran" end)
        app:get("/gen-fails", function(req) return coroutine.wrap(function() error("no chunk") end) end)
        app:get("/gen-table", function(req) return coroutine.wrap(function() coroutine.yield({}) end) end)
        app:get("/gen-number", function(req) return function() return 5 end end)
        app:get("/header-bool", function(req) return "x", 200, {["X-A"] = true} end)
        app:get("/header-space", function(req) return "x", 200, {["X A"] = "b"} end)
        app:get("/status-table", function(req) return "x", {200} end)
        app:get("/status-abc", function(req)
          local res = microdot.Response("x")
          res.status_code = "abc"
          return res
        end)
        app:get("/body-number", function(req)
          local res = microdot.Response("x")
          res.body = 42
          return res
        end)
        app:get("/hook-header", function(req)
          req:after_request(function(req, res) res.headers["X-Late"] = "a\\r\\nb" end)
          return "x"
        end)
        app:get("/late-chunk", function(req)
          return coroutine.wrap(function() coroutine.yield("a"); coroutine.yield(true) end)
        end)
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

    func testAnInvalidResponseIsAFiveHundredThroughTheAppsErrorHandling() async throws {
        let cases: [(String, String)] = [
            ("/gen-fails", "(route /gen-fails, handler app.lua:5): app.lua:5: no chunk"),
            (
                "/gen-table",
                "(route /gen-table, handler app.lua:6): app.lua:6: a stream gave a table; chunks must be strings"
            ),
            (
                "/gen-number",
                "(route /gen-number, handler app.lua:7): app.lua:7: a stream gave the number 5; "
                    + "chunks must be strings (give tostring(n))"
            ),
            (
                "/header-bool",
                "(route /header-bool, handler app.lua:8): app.lua:8: invalid response: the value of header X-A "
                    + "must be a string, a number or an array of strings, got a boolean (true)"
            ),
            (
                "/header-space",
                "(route /header-space, handler app.lua:9): app.lua:9: invalid response: "
                    + "the header name \"X A\" is not a token"
            ),
            (
                "/status-table",
                "app.lua:10: invalid response: a header name must be a string, got the number 1 "
                    + "(headers are a table of name = value; a status goes before them"
            ),
            (
                "/status-abc",
                "(route /status-abc, handler app.lua:11): app.lua:11: invalid response: "
                    + "res.status_code must be an integer from 200 to 999 (1xx are interim), got the string \"abc\""
            ),
            (
                "/body-number",
                "app.lua:16: invalid response: res.body must be a string, a generator or send_file's file, "
                    + "got the number 42 (a number is converted by Response(...) only: assign tostring(n))"
            ),
            (
                "/hook-header",
                "app.lua:21: invalid response: the value of header X-Late contains a control character"
            ),
        ]
        try await withApp(invalidResponses) { client in
            for (path, logged) in cases {
                let response = try await client.get(path)
                XCTAssertEqual(response.status, 500, path)
                XCTAssertEqual(response.text, "the app's 500", "\(path): errorhandler(500) answers")
                XCTAssertEqual(response.header("X-After-Error"), "ran", "\(path): after_error_request runs")
                XCTAssertTrue(client.log.text.contains("GET \(path) "), "\(path): \(client.log.text)")
                XCTAssertTrue(client.log.text.contains(logged), "\(path): \(logged) not in \(client.log.text)")
                let next = try await client.get("/text")
                XCTAssertEqual(next.text, "text", "serving goes on")
            }
            let head = try await client.request("/gen-fails", method: "HEAD")
            XCTAssertEqual(head.status, 200, "a HEAD request does not run the generator")
        }
    }

    func testAStreamThatFailsAfterItsHeadIsCutAndNamesTheHandler() async throws {
        try await withApp(invalidResponses) { client in
            do {
                let response = try await client.get("/late-chunk")
                XCTFail("the chunked body must not end cleanly, got \(response.text)")
            } catch {}
            XCTAssertTrue(
                client.log.text.contains(
                    "GET /late-chunk (route /late-chunk, handler app.lua:25): app.lua:25: a stream gave a boolean (true)"
                ),
                client.log.text)
        }
    }

    func testAnErrorHandlersInvalidResponseIsTheServersFiveHundred() async throws {
        let lua = """
            local app = require("microdot").Microdot()
            app:errorhandler(500, function(req) return "x", 500, {["Bad Name"] = "v"} end)
            app:get("/", function(req) return "x", 200, {["X-A"] = false} end)
            return app
            """
        try await withApp(lua) { client in
            let response = try await client.get("/")
            XCTAssertEqual(response.status, 500)
            XCTAssertEqual(response.text, "Internal server error")
            let log = client.log.text
            XCTAssertTrue(log.contains("app.lua:3: invalid response: the value of header X-A"), log)
            XCTAssertTrue(
                log.contains(
                    "GET / (route /, handler app.lua:3): the response of an error handler or after_error_request "
                        + "hook: invalid response: the header name \"Bad Name\" is not a token"), log)
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

    func testADotInsteadOfAColonOnOtherObjectsSaysDidYouMean() {
        let cases: [(String, String)] = [
            (
                #"microdot.Response("x").set_cookie("a", "b")"#,
                "res.set_cookie(...) was called with a dot: did you mean res:set_cookie(...)? (methods of a Response take a colon)"
            ),
            (#"microdot.Response("x").delete_cookie("a")"#, "res.delete_cookie(...) was called with a dot"),
            (
                #"microdot.MultiDict().get("x")"#,
                "req.args.get(...) was called with a dot: did you mean req.args:get(...)?"
            ),
            (#"microdot.MultiDict().getlist("x")"#, "req.args.getlist(...) was called with a dot"),
            (
                #"microdot.shared.get("x")"#,
                "microdot.shared.get(...) was called with a dot: did you mean microdot.shared:get(...)?"
            ),
            (#"microdot.shared.set("x", 1)"#, "microdot.shared.set(...) was called with a dot"),
            (#"microdot.shared.incr("x", 1)"#, "microdot.shared.incr(...) was called with a dot"),
            (#"app.static("/s", ".")"#, "app.static(...) was called with a dot: did you mean app:static(...)?"),
            (#"require("microdot.login").Login().user_loader(print)"#, "login.user_loader(...) was called with a dot"),
            (
                #"require("microdot.auth").BasicAuth().authenticate(print)"#,
                "auth.authenticate(...) was called with a dot"
            ),
            (
                #"require("microdot.auth").TokenAuth().errorhandler(print)"#,
                "auth.errorhandler(...) was called with a dot"
            ),
            (#"require("microdot.cors").CORS().initialize(app)"#, "cors.initialize(...) was called with a dot"),
            (#"require("microdot.csrf").CSRF().exempt(print)"#, "csrf.exempt(...) was called with a dot"),
            (
                #"require("microdot.session").Session().initialize(app, {})"#,
                "app._session.initialize(...) was called with a dot"
            ),
        ]
        for (line, expected) in cases {
            let message = startupError(
                """
                local microdot = require("microdot"); local app = microdot.Microdot()
                \(line)
                return app
                """)
            XCTAssertTrue(message.hasPrefix("app.lua:2: " + expected), "\(line): \(message)")
        }
        let colons = startupError(
            """
            local microdot = require("microdot"); local app = microdot.Microdot()
            local res = microdot.Response("x"); res:set_cookie("a", "b"); res:delete_cookie("c")
            local md = microdot.MultiDict(); md:get("x"); md:getlist("x")
            microdot.shared:set("k", 1); microdot.shared:get("k"); microdot.shared:incr("k")
            microdot.shared.capacity(); microdot.shared.free_space()
            return app
            """)
        XCTAssertEqual(colons, "no error", "with colons, and capacity/free_space either way")
    }

    func testADotCallInARouteNamesTheRouteAndTheLine() async throws {
        let lua = """
            local app = require("microdot").Microdot()
            app:get("/args", function(req)
              local x = req.args.get("x")
              return x
            end)
            app:get("/hook", function(req)
              req.after_request(function() end)
              return "x"
            end)
            app:get("/cookie", function(req)
              local res = require("microdot").Response("x")
              res.set_cookie("a", "b")
              return res
            end)
            app:get("/text", function(req) return "text" end)
            return app
            """
        try await withApp(lua) { client in
            try await expect500(
                client, "/args",
                logs: ["GET /args (route /args, handler app.lua:2): app.lua:3: req.args.get(...) was called with a dot"]
            )
            try await expect500(
                client, "/hook",
                logs: ["(route /hook, handler app.lua:6): app.lua:7: req.after_request(...) was called with a dot"])
            try await expect500(
                client, "/cookie",
                logs: ["(route /cookie, handler app.lua:10): app.lua:12: res.set_cookie(...) was called with a dot"])
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
