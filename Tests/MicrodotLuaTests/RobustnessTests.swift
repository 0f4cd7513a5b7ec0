import CLua
import XCTest

@testable import MicrodotLua

/// Timeouts, runaway and memory-hungry handlers, errors in every place,
/// smuggling attempts and static files (robustness_app.lua).
final class RobustnessTests: XCTestCase {
    private func server(_ configuration: Configuration = Configuration(), script: String = "robustness_app.lua") throws
        -> TestServer
    {
        try TestServer(app: MicrodotApp(scriptPath: TestPaths.fixture(script)), configuration: configuration)
    }

    // MARK: Timeouts

    func testSlowRequestHeadGets408() throws {
        let server = try server(Configuration(timeouts: Timeouts(requestHead: 0.3)))
        let client = try server.client()
        try client.send("GET /ok HTTP/1.1\r\nHo")
        let start = Date()
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(try client.isClosed())
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
    }

    func testIdleKeepAliveConnectionsAreClosed() throws {
        let server = try server(Configuration(timeouts: Timeouts(idle: 0.3)))
        let client = try server.client()
        XCTAssertEqual(try client.request("/ok").text, "ok")
        Thread.sleep(forTimeInterval: 0.6)
        XCTAssertTrue(try client.isClosed())
    }

    func testABusyConnectionIsNotIdle() throws {
        let server = try server(Configuration(timeouts: Timeouts(idle: 0.5)))
        let client = try server.client()
        for _ in 0..<4 {
            XCTAssertEqual(try client.request("/ok").text, "ok")
            Thread.sleep(forTimeInterval: 0.3)
        }
    }

    func testSlowBodyGets408() throws {
        let server = try server(Configuration(timeouts: Timeouts(body: 0.3)))
        let client = try server.client()
        try client.send("POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertTrue(try client.isClosed())
    }

    func testAClientThatStopsReadingIsDisconnected() throws {
        let server = try TestServer(
            app: MicrodotApp(scriptPath: TestPaths.fixture("concurrency_app.lua")),
            configuration: Configuration(timeouts: Timeouts(write: 0.5)))
        let reader = try server.client()
        try reader.send("GET /infinite HTTP/1.1\r\nHost: x\r\n\r\n")
        let deadline = Date().addingTimeInterval(10)
        var closed = false
        while !closed, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            let state = try JSONSerialization.jsonObject(with: Data(server.request("/produced").body)) as? [String: Any]
            closed = state?["closed"] as? Bool ?? false
        }
        XCTAssertTrue(closed, "the stream was stopped and its generator closed")
    }

    func testClosedConnectionsAreFreed() throws {
        let server = try server()
        let before = HTTPConnectionHandler.liveCount.withLockedValue { $0 }
        for index in 0..<100 {
            let client = try server.client()
            if index % 2 == 0 {
                XCTAssertEqual(try client.request("/ok").text, "ok")
            } else {
                try client.send("GET /files/css/site.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                _ = try client.readResponse()
            }
        }
        let deadline = Date().addingTimeInterval(5)
        var live = Int.max
        while Date() < deadline {
            live = HTTPConnectionHandler.liveCount.withLockedValue { $0 }
            if live <= before { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertLessThanOrEqual(live, before, "every closed connection's handler was released")
    }

    // MARK: Runaway scripts and memory

    func testARunawayHandlerIsStoppedAndTheWorkerKeepsServing() throws {
        let server = try server(Configuration(workers: 1, handlerTimeout: 0.3))
        for path in ["/loop", "/pcall-loop"] {
            let start = Date()
            let response = try server.request(path)
            XCTAssertEqual(response.status, 500, path)
            XCTAssertEqual(response.text, "Internal server error")
            XCTAssertLessThan(Date().timeIntervalSince(start), 5, path)
            XCTAssertEqual(try server.request("/ok").text, "ok", "served after \(path)")
        }
        XCTAssertTrue(server.log.text.contains("handler timeout"), server.log.text)
    }

    func testARunawayInsideACoroutineIsStopped() throws {
        let server = try server(Configuration(workers: 1, handlerTimeout: 0.3))
        // The coroutine gets the error; the handler goes on and answers.
        var response = try server.request("/coroutine-loop")
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(
            response.text.hasPrefix("resumed: false") && response.text.contains("handler timeout"), response.text)
        // The coroutine swallows the error and is suspended; the handler runs away next.
        response = try server.request("/coroutine-pcall-loop")
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(try server.request("/ok").text, "ok")
    }

    /// A slow Swift function is not interrupted (no signal reaches its system
    /// calls); the Lua that runs on after it returns is stopped.
    func testASlowSwiftFunctionRunsToItsEndAndTheLuaAfterItIsStopped() throws {
        let slow = LuaModule("slow").function("sleep") { _ in
            var request = timespec(tv_sec: 0, tv_nsec: 500_000_000)
            var remaining = timespec()
            var interrupted = false
            while nanosleep(&request, &remaining) != 0 {
                interrupted = true
                request = remaining
            }
            return .boolean(interrupted)
        }
        let app = MicrodotApp(
            source: """
                local microdot = require("microdot")
                local slow = require("slow")
                local app = microdot.Microdot()
                app:get("/sleep", function(req) return "interrupted: " .. tostring(slow.sleep()) end)
                app:get("/sleep-then-loop", function(req) slow.sleep() while true do end end)
                return app
                """, name: "slow.lua", modules: [slow])
        let server = try TestServer(app: app, configuration: Configuration(workers: 1, handlerTimeout: 0.2))
        let start = Date()
        XCTAssertEqual(try server.request("/sleep").text, "interrupted: false")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.5)
        XCTAssertEqual(try server.request("/sleep-then-loop").status, 500)
    }

    /// The budget hook is set only once a slice is overdue, and is gone when
    /// the slice ends: code within its budget runs without it.
    func testTheBudgetHookIsSetOnlyForAnOverdueSlice() throws {
        let lua = LuaState(budget: 0.2)
        try lua.run(source: Array("x = 0 for i = 1, 1000 do x = x + i end".utf8), chunkName: "=quick")
        XCTAssertNil(lua_gethook(lua.L), "no hook while within the budget")
        try lua.run(source: Array("caught = not pcall(function() while true do end end)".utf8), chunkName: "=runaway")
        _ = mdl_getglobal(lua.L, "caught")
        XCTAssertEqual(lua_toboolean(lua.L, -1), 1, "the runaway was stopped with an error")
        mdl_pop(lua.L, 1)
        XCTAssertNil(lua_gethook(lua.L), "the hook is removed when the slice ends")
        XCTAssertNoThrow(
            try lua.run(source: Array("for i = 1, 1e5 do end".utf8), chunkName: "=again"),
            "a new slice has a new budget")
    }

    func testARunawayStreamIsCutShort() throws {
        let server = try server(Configuration(workers: 1, handlerTimeout: 0.3))
        for path in ["/stream-loop", "/stream-pcall-loop"] {
            let client = try server.client()
            try client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertThrowsError(try client.readResponse(), "\(path): the chunked body never ends properly")
            XCTAssertEqual(try server.request("/ok").text, "ok", "served after \(path)")
        }
    }

    func testARunawayScriptStopsStartUp() throws {
        XCTAssertThrowsError(
            try TestServer(
                app: MicrodotApp(source: "while true do end", name: "spin.lua"),
                configuration: Configuration(handlerTimeout: 0.3))
        ) { error in
            XCTAssertTrue("\(error)".contains("handler timeout"), "\(error)")
        }
    }

    func testAMemoryBombIsAnErrorResponse() throws {
        let server = try server(Configuration(workers: 1, memoryLimit: 64 * 1024 * 1024))
        for path in ["/bomb", "/string-bomb"] {
            let response = try server.request(path)
            XCTAssertEqual(response.status, 500, path)
            XCTAssertEqual(try server.request("/ok").text, "ok", "served after \(path)")
        }
        XCTAssertTrue(server.log.text.contains("not enough memory"), server.log.text)
    }

    // MARK: Errors anywhere

    func testErrorsInHooksHandlersAndEncodingAre500s() throws {
        let server = try server()
        let client = try server.client()
        for path in ["/hook-error", "/handler-error", "/json-error"] {
            let response = try client.request(path)
            XCTAssertEqual(response.status, 500, path)
            XCTAssertEqual(response.text, "Internal server error", path)
        }
        XCTAssertEqual(try client.request("/ok").text, "ok", "the same connection goes on")
    }

    func testAnErrorMidStreamClosesTheConnection() throws {
        let server = try server()
        let client = try server.client()
        try client.send("GET /stream-error HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertThrowsError(try client.readResponse(), "a truncated chunked body")
        XCTAssertTrue(try client.isClosed(), "the pipelined request gets no response rather than a wrong one")
        XCTAssertTrue(server.log.text.contains("the generator broke"), server.log.text)
    }

    // MARK: Smuggling

    func testContentLengthWithTransferEncodingIs400() throws {
        let server = try server()
        let client = try server.client()
        try client.send(
            "POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 400)
        XCTAssertTrue(try client.isClosed())
    }

    func testBadChunkedEncodingIs400() throws {
        let server = try server()
        let client = try server.client()
        try client.send("POST /ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 400)
    }

    func testPipelinedResponsesStayInOrder() throws {
        let server = try server()
        let client = try server.client()
        var requests = ""
        for _ in 0..<20 {
            requests += "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /files/css/site.css HTTP/1.1\r\nHost: x\r\n\r\n"
        }
        try client.send(requests)
        for _ in 0..<20 {
            XCTAssertEqual(try client.readResponse().text, "ok")
            XCTAssertEqual(try client.readResponse().text, "body { color: red; }\n")
        }
    }

    func testLongRequestLinesAndHeaders() throws {
        let server = try server()
        var client = try server.client()
        try client.send("GET /ok?\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 414)
        XCTAssertTrue(try client.isClosed())

        client = try server.client()
        try client.send("GET /ok?\(String(repeating: "a", count: 70_000)) HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 431, "past the whole head's limit the parser answers")

        client = try server.client()
        try client.send("GET /ok HTTP/1.1\r\nHost: x\r\nCookie: \(String(repeating: "c", count: 9000))\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 431)
    }

    // MARK: Static files

    func testStaticFiles() throws {
        let server = try server()
        let css = try server.request("/files/css/site.css")
        XCTAssertEqual(css.status, 200)
        XCTAssertEqual(css.header("Content-Type"), "text/css")
        XCTAssertEqual(css.header("Cache-Control"), "max-age=60")
        XCTAssertEqual(try server.request("/files/").text, "<h1>public</h1>\n")
        XCTAssertEqual(try server.request("/files").text, "<h1>public</h1>\n")
        XCTAssertEqual(try server.request("/files/docs").text, "docs index\n")
        XCTAssertEqual(try server.request("/files/inside.html").text, "<h1>public</h1>\n", "a symlink inside is fine")
    }

    func testStaticFilesRefuseTraversal() throws {
        let server = try server()
        let refused = [
            "/files/../robustness_app.lua", "/files/%2e%2e/robustness_app.lua",
            "/files/%2E%2E/%2e%2e/Fixtures/robustness_app.lua",
            "/files/css/../../robustness_app.lua", "/files/..%2frobustness_app.lua", "/files//etc/passwd",
            "/files/%2fetc%2fpasswd",
            "/files/escape.lua", "/files/.env", "/files/missing.txt", "/files/css/..%5c..%5crobustness_app.lua",
            "/files/%00index.html",
        ]
        for path in refused {
            let response = try server.request(path)
            XCTAssertEqual(response.status, 404, path)
            XCTAssertFalse(response.text.contains("microdot"), "\(path) leaked \(response.text)")
        }
    }
}
