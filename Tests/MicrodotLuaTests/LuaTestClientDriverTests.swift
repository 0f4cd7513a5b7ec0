import MicrodotLuaTesting
import XCTest

@testable import MicrodotLua

/// `microdot.test_client` runs its requests through the server's own driver
/// (RequestTask): inside a served request the call suspends that request, and
/// the inner request's sleeps take real time on the event loop.
final class LuaTestClientDriverTests: XCTestCase {
    func testTheLuaClientInsideARequestSuspendsItUntilTheInnerRequestEnds() async throws {
        let app = MicrodotApp(
            source: """
                local microdot = require("microdot")
                local inner = microdot.Microdot()
                inner:get("/slow", function(req) microdot.sleep(0.2); return {slept = true} end)
                inner:get("/stream", function(req)
                  return coroutine.wrap(function()
                    coroutine.yield("a"); microdot.sleep(0.05); coroutine.yield("b")
                  end)
                end)
                local app = microdot.Microdot()
                app:get("/", function(req)
                  local client = microdot.test_client(inner)
                  local slow, stream = client:get("/slow"), client:get("/stream")
                  return slow.status_code .. " " .. tostring(slow.json.slept) .. " " .. stream.body
                end)
                return app
                """)
        let client = try await MicrodotTestClient(app: app)
        let start = Date()
        let response = try await client.get("/")
        XCTAssertEqual(response.text, "200 true ab")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.25)
    }

    func testTheLuaClientWorksInsideAScriptsOwnCoroutine() throws {
        let app = MicrodotApp(
            source: """
                local microdot = require("microdot")
                local app = microdot.Microdot()
                app:get("/", function(req) microdot.sleep(30); return "woke" end)
                local get = coroutine.wrap(function() return microdot.test_client(app):get("/").text end)
                assert(get() == "woke")
                """)
        XCTAssertNoThrow(try app.runScript())
    }

    func testTheBodyLimitsAreTheServersEvenWhenTheScriptChangesThem() throws {
        let app = MicrodotApp(
            source: """
                local microdot = require("microdot")
                local app = microdot.Microdot()
                app:post("/", function(req) return req.body .. "|" .. (req.stream:read() or "") end)
                local client = microdot.test_client(app)
                microdot.Request.max_body_length = 4
                microdot.Request.max_content_length = 8
                assert(client:post("/", {body = "1234"}).text == "1234|1234")
                assert(client:post("/", {body = "12345"}).text == "|12345")
                assert(client:post("/", {body = "123456789"}).status_code == 413)
                """)
        XCTAssertNoThrow(try app.runScript())
    }
}
