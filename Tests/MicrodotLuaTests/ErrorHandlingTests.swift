import XCTest

@testable import MicrodotLua

/// README "Errors": a Lua error becomes a 500 with a logged traceback, and
/// serving goes on.
final class ErrorHandlingTests: AppTestCase {
    private let failingApp = """
        local app = require("microdot").Microdot()
        app:get("/error", function(req) error("boom from the handler") end)
        app:get("/json-loop", function(req) local t = {}; t.self = t; return t end)
        app:get("/json-nan", function(req) return {x = 0/0} end)
        app:get("/json-key", function(req) return {[true] = 1} end)
        app:get("/stream-error", function(req)
          return coroutine.wrap(function()
            coroutine.yield("first\\n")
            error("stream broke")
          end)
        end)
        app:get("/text", function(req) return "text" end)
        return app
        """

    func testAHandlerErrorIsA500AndItsTracebackIsLogged() async throws {
        try await withApp(failingApp) { client in
            let response = try await client.get("/error")
            XCTAssertEqual(response.status, 500)
            XCTAssertEqual(response.text, "Internal server error")
            let next = try await client.get("/text")
            XCTAssertEqual(next.text, "text", "serving goes on")
            let log = client.log.text
            XCTAssertTrue(log.contains("app.lua:"), log)
            XCTAssertTrue(log.contains("boom from the handler"), log)
            XCTAssertTrue(log.contains("stack traceback"), log)
        }
    }

    func testAConnectionServesTheNextRequestAfterA500() async throws {
        try await withApp(failingApp, modes: [.live]) { app in
            let client = try app.connection()
            XCTAssertEqual(try client.request("/error").status, 500)
            XCTAssertEqual(try client.request("/text").text, "text", "same connection, next request")
        }
    }

    func testAValueJSONCannotEncodeIsA500() async throws {
        try await withApp(failingApp) { client in
            for target in ["/json-loop", "/json-nan", "/json-key"] {
                let response = try await client.get(target)
                XCTAssertEqual(response.status, 500, target)
            }
            XCTAssertTrue(client.log.text.contains("contains itself"), client.log.text)
            let next = try await client.get("/text")
            XCTAssertEqual(next.status, 200)
        }
    }

    func testAnErrorMidStreamCutsTheBodyShortAndIsLogged() async throws {
        try await withApp(failingApp) { client in
            do {
                let response = try await client.get("/stream-error")
                XCTFail("the chunked body must not end cleanly, got \(response.text)")
            } catch {}
            XCTAssertTrue(client.log.text.contains("stream broke"), client.log.text)
            let next = try await client.get("/text")
            XCTAssertEqual(next.text, "text")
        }
    }
}
