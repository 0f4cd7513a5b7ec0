import XCTest

@testable import MicrodotLua

/// The HTTP/1.x layer: keep-alive, pipelining, HTTP/1.0, request bodies,
/// malformed requests and the body limit.
final class HTTPServerTests: XCTestCase {
    /// Set in `setUp()` once for the class; XCTest runs a class's tests one at a time.
    nonisolated(unsafe) static var server: TestServer!

    /// The app every test here talks to, one connection or many.
    static let app = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:get("/names/<name>", function(req, name) return name end)
        app:get("/text", function(req) return "text" end)
        app:get("/status", function(req) return "text", 202 end)
        app:get("/array", function(req) return {1, 2, 3}, 201 end)
        app:post("/echo", function(req) return req.body, {["Content-Type"] = "application/octet-stream"} end)
        app:get("/sleep", function(req)
          microdot.sleep(0.01)
          return "slept"
        end)
        app:get("/stream", function(req)
          local i = 0
          return function()
            i = i + 1
            if i <= 3 then return "f" .. i end
          end
        end)
        return app
        """

    override class func setUp() {
        server = try! TestServer(source: app)
    }

    override class func tearDown() { server = nil }

    func testKeepAliveServesManyRequestsOnOneConnection() throws {
        let client = try Self.server.client()
        for index in 0..<20 {
            let response = try client.request("/names/n\(index)")
            XCTAssertEqual(response.text, "n\(index)")
            XCTAssertNil(response.header("Connection"))
            XCTAssertNotNil(response.header("Date"))
        }
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let client = try Self.server.client()
        var batch = ""
        let targets = ["/names/one", "/sleep", "/stream", "/names/two", "/array", "/names/three"]
        for target in targets { batch += "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n" }
        try client.send(batch)
        XCTAssertEqual(try client.readResponse().text, "one")
        XCTAssertEqual(try client.readResponse().text, "slept")
        XCTAssertEqual(try client.readResponse().text, "f1f2f3")
        XCTAssertEqual(try client.readResponse().text, "two")
        XCTAssertEqual(try client.readResponse().text, "[1,2,3]")
        XCTAssertEqual(try client.readResponse().text, "three")
    }

    func testPipelinedRequestsBeforeHalfCloseAreAllAnswered() throws {
        let client = try Self.server.client()
        try client.send("GET /names/a HTTP/1.1\r\nHost: x\r\n\r\nGET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")
        client.shutdownWrite()
        XCTAssertEqual(try client.readResponse().text, "a")
        XCTAssertEqual(try client.readResponse().text, "slept")
        XCTAssertTrue(try client.isClosed())
    }

    func testHTTP10ClosesUnlessKeepAliveAsked() throws {
        var client = try Self.server.client()
        var response = try client.request("/text", version: "HTTP/1.0")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertEqual(response.text, "text")
        XCTAssertTrue(try client.isClosed())

        client = try Self.server.client()
        response = try client.request("/text", headers: ["Connection": "keep-alive"], version: "HTTP/1.0")
        XCTAssertEqual(response.header("Connection"), "keep-alive")
        XCTAssertEqual(
            try client.request("/status", headers: ["Connection": "keep-alive"], version: "HTTP/1.0").status, 202)
    }

    func testConnectionCloseIsHonoured() throws {
        let client = try Self.server.client()
        let response = try client.request("/text", headers: ["Connection": "close"])
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(try client.isClosed())
    }

    func testContentLengthAndChunkedBodies() throws {
        let client = try Self.server.client()
        let bytes: [UInt8] = Array(0...255) + Array("tail".utf8)
        let echoed = try client.request("/echo", method: "POST", body: bytes)
        XCTAssertEqual(echoed.body, bytes)

        try client.send(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
        XCTAssertEqual(try client.readResponse().text, "hello, world")
    }

    func testExpectContinue() throws {
        let client = try Self.server.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 100)
        try client.send("abc")
        XCTAssertEqual(try client.readResponse().text, "abc")
    }

    func testMalformedRequestsGet400AndServingContinues() throws {
        for garbage in [
            "NOT HTTP AT ALL\r\n\r\n", "GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let client = try Self.server.client()
            try client.send(garbage)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 400, garbage)
            XCTAssertEqual(response.text, "Bad request", garbage)
            XCTAssertTrue(try client.isClosed(), garbage)
        }
        XCTAssertEqual(try Self.server.request("/text").text, "text")
    }

    func testBodyOverTheLimitGets413() throws {
        let server = try TestServer(
            source: """
                local microdot = require("microdot")
                microdot.Request.max_content_length = 1024
                local app = microdot.Microdot()
                app:post("/upload", function(req) return "got " .. #req.body end)
                return app
                """)
        let client = try server.client()
        XCTAssertEqual(
            try client.request("/upload", method: "POST", body: Array(repeating: 65, count: 1024)).text, "got 1024")
        try client.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        let refused = try client.readResponse()
        XCTAssertEqual(refused.status, 413)
        XCTAssertEqual(refused.text, "Payload too large")
        XCTAssertEqual(refused.header("Connection"), "close")

        let chunkedClient = try server.client()
        let chunk = String(repeating: "x", count: 800)
        try chunkedClient.send(
            "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "320\r\n\(chunk)\r\n320\r\n\(chunk)\r\n")
        XCTAssertEqual(try chunkedClient.readResponse().status, 413)
        XCTAssertEqual(try server.request("/upload", method: "POST", body: [65]).text, "got 1")
    }
}
