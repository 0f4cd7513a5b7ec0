import XCTest

@testable import MicrodotLua

/// Large request bodies on a socket (lua-api section 19): a body over
/// `max_body_length` streams to its route with backpressure, limits and
/// stalls mid-stream, the unread rest, and 100 Continue at the first read.
/// (The Lua API itself is in Tests/LuaSpecs/stream_spec.lua; the 1 GiB and
/// 100 MiB uploads and curl in Tests/oracle/test_uploads.py.)
final class RequestStreamTests: XCTestCase {
    private static let app = """
        local microdot = require("microdot")
        microdot.Request.max_body_length = 1024
        microdot.Request.max_content_length = 64 * 1024
        local app = microdot.Microdot()
        local seen = "none"
        app:post("/count", function(req)
          if req.args.sleep then microdot.sleep(tonumber(req.args.sleep)) end
          local total, reads = 0, 0
          while true do
            local chunk = req.stream:read(4096)
            if chunk == nil then break end
            total, reads = total + #chunk, reads + 1
          end
          seen = tostring(total)
          return {size = total, body = #req.body, length = req.content_length or "nil"}
        end)
        app:post("/ignore", function(req) return "ignored" end)
        app:post("/first/<int:n>", function(req, n) return req.stream:readexactly(n) end)
        app:get("/seen", function(req) return seen end)
        app:post("/echo", function(req)
          local started = false
          return function()
            if not started then
              started = true
              return "start;"
            end
            return req.stream:read(4096)
          end
        end)
        app:get("/ok", function(req) return "ok" end)
        app:errorhandler(408, function(req) return "too slow", 408 end)
        return app
        """

    private func server(body timeout: Double = 30) throws -> TestServer {
        try TestServer(
            app: MicrodotApp(source: Self.app, root: TestPaths.fixture("")),
            configuration: Configuration(workers: 1, timeouts: Timeouts(body: timeout)))
    }

    private func head(_ path: String, length: Int? = nil, extra: String = "") -> [UInt8] {
        let framing = length.map { "Content-Length: \($0)\r\n" } ?? "Transfer-Encoding: chunked\r\n"
        return Array("POST \(path) HTTP/1.1\r\nHost: x\r\n\(framing)\(extra)\r\n".utf8)
    }

    private func json(_ response: RawResponse) throws -> NSDictionary? {
        try JSONSerialization.jsonObject(with: Data(response.body)) as? NSDictionary
    }

    private func chunk(_ bytes: [UInt8]) -> [UInt8] {
        Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10]
    }

    func testABodyOverMaxBodyLengthStreamsToTheRoute() throws {
        let server = try server()
        let client = try server.client()
        let body = [UInt8](repeating: 65, count: 50_000)
        try client.send(head("/count", length: body.count) + body)
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(try json(response), ["size": 50000, "body": 0, "length": 50000] as NSDictionary)
        // The connection goes on.
        XCTAssertEqual(try client.request("/ok").text, "ok")
    }

    func testAChunkedBodyStreamsOncePastMaxBodyLengthWithoutALength() throws {
        let server = try server()
        let client = try server.client()
        var bytes = head("/count")
        for _ in 0..<10 { bytes += chunk([UInt8](repeating: 66, count: 3000)) }
        try client.send(bytes + Array("0\r\n\r\n".utf8))
        XCTAssertEqual(try json(client.readResponse()), ["size": 30000, "body": 0, "length": "nil"] as NSDictionary)
    }

    /// 413 mid-stream: a chunked body that grows past max_content_length
    /// while its route reads it.
    func testAChunkedBodyPastMaxContentLengthMidStreamIs413AndCloses() throws {
        let server = try server()
        let client = try server.client()
        var bytes = head("/count")
        for _ in 0..<40 { bytes += chunk([UInt8](repeating: 67, count: 4000)) }
        try client.send(bytes + Array("0\r\n\r\n".utf8))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.text, "Payload too large")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(try client.isClosed())
        XCTAssertEqual(try server.request("/seen").text, "none", "the route's read raised")
    }

    func testABodyThatStallsMidStreamIs408AndCloses() throws {
        let server = try server(body: 0.5)
        let client = try server.client()
        try client.send(head("/count", length: 10_000) + [UInt8](repeating: 68, count: 3000))
        let started = Date()
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(response.text, "too slow", "through the app's 408 handler")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertTrue(try client.isClosed())
    }

    /// The route answers without reading: the rest is read and dropped,
    /// and the next request on the connection is served.
    func testTheUnreadRestIsDroppedAndTheConnectionGoesOn() throws {
        let server = try server()
        let client = try server.client()
        try client.send(head("/ignore", length: 60_000))
        let response = try client.readResponse(method: "POST")
        XCTAssertEqual(response.text, "ignored")
        XCTAssertNil(response.header("Connection"))
        try client.send([UInt8](repeating: 69, count: 60_000))
        XCTAssertEqual(try client.request("/ok").text, "ok")
        // Also when the route read some of it.
        try client.send(head("/first/10", length: 30_000) + [UInt8](repeating: 70, count: 30_000))
        XCTAssertEqual(try client.readResponse().text, String(repeating: "F", count: 10))
        XCTAssertEqual(try client.request("/ok").text, "ok")
    }

    func testAnUnreadRestThatOutlastsTheBodyTimeoutCloses() throws {
        let server = try server(body: 0.5)
        let client = try server.client()
        try client.send(head("/ignore", length: 60_000) + [UInt8](repeating: 71, count: 1000))
        XCTAssertEqual(try client.readResponse().text, "ignored")
        let started = Date()
        XCTAssertTrue(try client.isClosed())
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    /// RFC 9110 section 10.1.1: the 100 comes when the route first reads.
    func testExpectContinueIsAnsweredAtTheFirstRead() throws {
        let server = try server()
        let client = try server.client()
        try client.send(head("/count?sleep=0.3", length: 5000, extra: "Expect: 100-continue\r\n"))
        let started = Date()
        XCTAssertEqual(try client.readResponse().status, 100)
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.2, "sent before the route read")
        try client.send([UInt8](repeating: 72, count: 5000))
        XCTAssertTrue(try client.readResponse().text.contains(#""size":5000"#))
        XCTAssertEqual(try client.request("/ok").text, "ok")
    }

    /// A route that does not read gets no 100 sent for it: its client never
    /// sends the body, so the connection closes after the response.
    func testExpectContinueForARouteThatDoesNotReadClosesInstead() throws {
        let server = try server()
        let client = try server.client()
        try client.send(head("/ignore", length: 5000, extra: "Expect: 100-continue\r\n"))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(try client.isClosed())
    }

    /// A route whose response starts before it reads (a stream that gives
    /// a chunk, then echoes the body as it comes): no 100 may follow the
    /// response's head, and the connection closes after it.
    func testNo100FollowsAResponseThatStartedBeforeTheFirstRead() throws {
        let server = try server()
        let client = try server.client()
        try client.send(head("/echo", length: 3000, extra: "Expect: 100-continue\r\n"))
        Thread.sleep(forTimeInterval: 0.3)
        try client.send([UInt8](repeating: 76, count: 3000))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "start;" + String(repeating: "L", count: 3000))
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(try client.isClosed(), "something (a 100?) came after the response")
    }

    func testADeclaredLengthOverTheLimitGets413InsteadOf100() throws {
        let server = try server()
        let client = try server.client()
        try client.send(head("/count", length: 100_000, extra: "Expect: 100-continue\r\n"))
        XCTAssertEqual(try client.readResponse().status, 413)
    }

    /// Backpressure: while the route does not read, the server stops
    /// reading, so the client cannot push the body into its memory.
    func testTheServerStopsReadingWhileTheRouteDoesNotRead() throws {
        let source = """
            local microdot = require("microdot")
            microdot.Request.max_body_length = 1024
            microdot.Request.max_content_length = 1024 * 1024 * 1024
            local app = microdot.Microdot()
            app:post("/slow", function(req)
              microdot.sleep(2)
              local total = 0
              for chunk in function() return req.stream:read(65536) end do total = total + #chunk end
              return tostring(total)
            end)
            return app
            """
        let server = try TestServer(app: MicrodotApp(source: source, root: TestPaths.fixture("")))
        let client = try server.client()
        let size = 64 * 1024 * 1024
        try client.send(head("/slow", length: size))
        let part = [UInt8](repeating: 73, count: 32 * 1024 * 1024)
        // The kernel's buffers take some megabytes; the server at most
        // RequestBodyStream.highWater more.
        let sent = client.send(part, within: 1)
        XCTAssertLessThan(sent, 24 * 1024 * 1024, "the server kept reading while the route slept")
        var total = sent
        if sent < part.count {
            try client.send(Array(part[sent...]))
            total = part.count
        }
        while total < size {
            try client.send(part)
            total += part.count
        }
        XCTAssertEqual(try client.readResponse().text, String(size))
    }

    /// A streamed request pipelined behind another one waits for its turn.
    func testAStreamedRequestPipelinedBehindAnother() throws {
        let server = try server()
        let client = try server.client()
        let body = [UInt8](repeating: 74, count: 20_000)
        try client.send(Array("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + head("/count", length: body.count) + body)
        XCTAssertEqual(try client.readResponse().text, "ok")
        XCTAssertTrue(try client.readResponse().text.contains(#""size":20000"#))
        XCTAssertEqual(try client.request("/ok").text, "ok")
    }

    /// A body cut short by the client closing its side: the read raises 400.
    func testABodyCutShortIsABadRequest() throws {
        let server = try server()
        let client = try server.client()
        try client.send(head("/count", length: 10_000) + [UInt8](repeating: 75, count: 2000))
        client.shutdownWrite()
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 400)
        XCTAssertTrue(try client.isClosed())
    }
}
