import MicrodotLuaTesting
import XCTest

@testable import MicrodotLua

/// The Swift embedding API: Swift functions as Lua modules (sync and async),
/// value conversion, errors, and the in-process Swift test client.
final class EmbeddingTests: XCTestCase {
    struct NotFound: Error, CustomStringConvertible {
        var description: String { "no such user" }
    }

    /// A module like one an app would write: a sync echo, an async lookup
    /// that awaits, and functions that fail.
    static let cancelledCalls = LockedCounter()

    private let users = LuaModule("users")
        .function("echo") { arguments in arguments.first ?? .nil }
        .function("arity") { arguments in .integer(arguments.count) }
        .function("count") { _ in 2 }
        .function("fail") { _ in throw LuaFunctionError("echo refused") }
        .asyncFunction("find") { arguments in
            try await Task.sleep(nanoseconds: 20_000_000)
            switch arguments.first?.int {
            case 1: return ["id": 1, "name": "ada", "roles": ["admin", "dev"]]
            case 2: return ["id": 2, "name": "grace", "roles": .array([])]
            default: throw NotFound()
            }
        }
        .asyncFunction("slow") { arguments in
            do {
                try await Task.sleep(nanoseconds: UInt64((arguments.first?.double ?? 1) * 1e9))
            } catch {
                EmbeddingTests.cancelledCalls.increment()
                throw error
            }
            return "slow done"
        }

    private let script = """
        local microdot = require("microdot")
        local users = require("users")
        local app = microdot.Microdot()

        app:get("/users/<int:id>", function(req, id)
          local ok, user = pcall(users.find, id)
          if not ok then return {error = user}, 404 end
          return user
        end)
        app:get("/count", function(req) return {count = users.count(), type = math.type(users.count())} end)
        app:get("/echo", function(req)
          local values = {}
          for i, value in ipairs({true, 7, 2.5, "b\\0ytes", {1, 2}, {a = {b = "c"}}, microdot.json.array()}) do
            values[i] = users.echo(value)
          end
          return {values = values, integer = math.type(users.echo(7)), float = math.type(users.echo(7.0)),
            is_nil = users.echo(nil) == nil, arity = users.arity(1, nil, 3), bytes = #users.echo("b\\0ytes")}
        end)
        app:get("/fail", function(req) return users.fail() end)
        app:get("/fail-caught", function(req)
          local ok, err = pcall(users.fail)
          return tostring(ok) .. ": " .. err
        end)
        app:get("/bad-argument", function(req) return users.echo(print) end)
        app:get("/slow", function(req) return users.slow(req.args:get("s", 1, tonumber)) end)
        app:get("/fast", function(req) return "fast" end)
        app:get("/stream", function(req)
          return coroutine.wrap(function()
            coroutine.yield(users.find(1).name)
            coroutine.yield(" and ")
            coroutine.yield(users.find(2).name)
          end)
        end)
        return app
        """

    private func app() -> MicrodotApp {
        MicrodotApp(source: script, name: "embedded.lua", modules: [users])
    }

    func testSyncAndAsyncFunctionsOverASocket() throws {
        let server = try TestServer(app: app())
        let found = try server.request("/users/1")
        XCTAssertEqual(found.status, 200)
        XCTAssertEqual(found.text.contains(#""roles":["admin","dev"]"#), true, found.text)
        XCTAssertTrue(try server.request("/users/2").text.contains(#""roles":[]"#), "an empty array stays an array")
        let missing = try server.request("/users/9")
        XCTAssertEqual(missing.status, 404)
        XCTAssertTrue(missing.text.contains("no such user"), missing.text)
        let count = try JSONSerialization.jsonObject(with: Data(try server.request("/count").body)) as? [String: Any]
        XCTAssertEqual(count?["count"] as? Int, 2)
        XCTAssertEqual(count?["type"] as? String, "integer", "a Swift Int arrives as a Lua integer")
    }

    func testValuesConvertBothWays() throws {
        let server = try TestServer(app: app())
        let response = try server.request("/echo")
        let body = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let values = body?["values"] as? [Any] ?? []
        XCTAssertEqual(values.count, 7, response.text)
        XCTAssertEqual(values.first as? Bool, true)
        XCTAssertEqual(values.dropFirst(1).first as? Int, 7)
        XCTAssertEqual(values.dropFirst(2).first as? Double, 2.5)
        XCTAssertEqual(values.dropFirst(3).first as? String, "b\u{0}ytes")
        XCTAssertEqual(values.dropFirst(4).first as? [Int], [1, 2])
        XCTAssertEqual((values.dropFirst(5).first as? [String: Any])?["a"] as? [String: String], ["b": "c"])
        XCTAssertEqual(values.dropFirst(6).first as? [Int], [], "an empty marked array stays an array")
        XCTAssertEqual(body?["integer"] as? String, "integer")
        XCTAssertEqual(body?["float"] as? String, "float")
        XCTAssertEqual(body?["is_nil"] as? Bool, true)
        XCTAssertEqual(body?["arity"] as? Int, 3, "nil arguments keep their place")
        XCTAssertEqual(body?["bytes"] as? Int, 6, "strings are bytes")
    }

    func testSwiftErrorsAreLuaErrors() throws {
        let server = try TestServer(app: app())
        let failed = try server.request("/fail")
        XCTAssertEqual(failed.status, 500)
        XCTAssertTrue(server.log.text.contains("echo refused"), server.log.text)
        XCTAssertEqual(try server.request("/fail-caught").text, "false: echo refused")
        XCTAssertEqual(try server.request("/bad-argument").status, 500)
        XCTAssertTrue(server.log.text.contains("a function value cannot be passed to Swift"), server.log.text)
    }

    func testAnAwaitingRequestDoesNotBlockItsWorker() throws {
        let server = try TestServer(app: app(), workers: 1)
        let waiting = try server.client()
        let start = Date()
        try waiting.send("GET /slow?s=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(try server.request("/fast").text, "fast")
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.8)
        XCTAssertEqual(try waiting.readResponse().text, "slow done")
    }

    func testAsyncCallsInsideAStream() throws {
        let server = try TestServer(app: app())
        XCTAssertEqual(try server.request("/stream").text, "ada and grace")
    }

    func testAClosedConnectionCancelsTheSwiftTask() throws {
        let server = try TestServer(app: app(), configuration: Configuration(workers: 1, shutdownTimeout: 0.3))
        let waiting = try server.client()
        try waiting.send("GET /slow?s=30 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        // The grace period ends before the call does: the connection is
        // closed, which cancels the request and its Swift task.
        let before = Self.cancelledCalls.value
        let start = Date()
        server.server.shutdown()
        try server.server.wait()
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        let deadline = Date().addingTimeInterval(5)
        while Self.cancelledCalls.value == before, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(Self.cancelledCalls.value, before + 1, "the task saw the cancellation")
    }

    func testAsyncFunctionsInALuaTestScript() throws {
        let spec = MicrodotApp(
            source: """
                local microdot = require("microdot")
                local users = require("users")
                assert(users.find(1).name == "ada", "at the top level, the call waits")
                local app = microdot.Microdot()
                app:get("/", function(req) return users.find(2) end)
                local res = microdot.test_client(app):get("/")
                assert(res.json.name == "grace", "through the Lua test client: " .. res.text)
                """, modules: [users])
        XCTAssertNoThrow(try spec.runScript())
    }

    // MARK: The Swift test client

    func testSwiftTestClient() async throws {
        let client = try await MicrodotTestClient(app: app())
        let found = try await client.get("/users/1")
        XCTAssertEqual(found.status, 200)
        XCTAssertEqual(found.header("content-type"), "application/json; charset=UTF-8")
        XCTAssertNotNil(found.header("Date"))
        XCTAssertTrue(found.text.contains(#""name":"ada""#))
        let streamed = try await client.get("/stream")
        XCTAssertEqual(streamed.header("Transfer-Encoding"), "chunked")
        XCTAssertEqual(streamed.text, "ada and grace")
        let head = try await client.request("HEAD", "/count")
        XCTAssertEqual(head.body, [])
        let get = try await client.get("/count")
        XCTAssertEqual(head.header("Content-Length"), String(get.body.count))
        let missing = try await client.get("/nowhere")
        XCTAssertEqual(missing.status, 404)
    }

    func testSwiftTestClientBodiesFilesAndLimits() async throws {
        let app = MicrodotApp(
            source: """
                local microdot = require("microdot")
                microdot.Request.max_content_length = 64 * 1024
                local app = microdot.Microdot()
                app:post("/json", function(req) return {got = req.json} end)
                app:post("/body", function(req) return #req.body end)
                app:get("/file", function(req)
                  return microdot.send_file("files/plain", {content_type = "text/x-custom", status_code = 203})
                end)
                app:get("/sleep", function(req)
                  microdot.sleep(0.01)
                  return "slept"
                end)
                return app
                """, root: TestPaths.fixture(""))
        let client = try await MicrodotTestClient(app: app)
        let posted = try await client.post("/json", json: #"{"a":[1,2]}"#)
        XCTAssertEqual(posted.status, 200)
        XCTAssertTrue(posted.text.contains(#""a":[1,2]"#), posted.text)
        let tooLarge = try await client.post("/body", body: Array(repeating: 1, count: 64 * 1024 + 1))
        XCTAssertEqual(tooLarge.status, 413)
        XCTAssertEqual(tooLarge.text, "Payload too large")

        let file = try await client.get("/file")
        XCTAssertEqual(file.status, 203)
        XCTAssertEqual(file.body, Array(try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("files/plain")))))
        let slept = try await client.get("/sleep")
        XCTAssertEqual(slept.text, "slept")
    }
}
