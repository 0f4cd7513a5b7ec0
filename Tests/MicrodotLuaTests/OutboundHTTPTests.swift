import XCTest

@testable import MicrodotLua

/// `microdot.http` (spec 17) against a local upstream, itself a
/// microdot-lua server: concurrency on one worker, the response's shape,
/// errors naming the host, timeouts, redirects and max_body.
final class OutboundHTTPTests: XCTestCase {
    /// The upstream the client calls.
    private static let upstreamSource = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:get("/wait", function(req)
          microdot.sleep(tonumber(req.args.s or "0.1"))
          return "waited"
        end)
        local function echo(req)
          return {method = req.method, ua = req.headers["User-Agent"], type = req.headers["Content-Type"],
                  x = req.headers["X-Test"], body = req.body or ""}
        end
        app:get("/echo", echo)
        app:post("/echo", echo)
        app:get("/big", function(req) return string.rep("x", tonumber(req.args.n)) end)
        app:get("/twice", function() return "two", 201, {["Set-Cookie"] = {"a=1", "b=2"}, ["X-One"] = "1"} end)
        app:get("/hop/<int:n>", function(req, n)
          if n == 0 then return "landed" end
          return microdot.redirect("/hop/" .. (n - 1))
        end)
        app:post("/see-other", function() return microdot.redirect("/echo", 303) end)
        return app
        """

    /// The app under test: `POST /call` runs http.request with the JSON
    /// body's options (`{path}` in url is the upstream) and answers with
    /// the result or the error.
    private static func clientSource(upstream: Int) -> String {
        """
        local microdot = require("microdot")
        local http = require("microdot.http")
        local app = microdot.Microdot()
        local base = "http://127.0.0.1:\(upstream)"
        local at_start = http.request{url = base .. "/echo"}
        app:get("/at-start", function() return {status = at_start.status, body = at_start.body} end)
        app:get("/fanout", function()
          local res, err = http.request{url = base .. "/wait?s=0.1"}
          return res and res.body or err
        end)
        app:post("/call", function(req)
          local options = req.json
          options.url = options.url:gsub("^/", base .. "/")
          local res, err = http.request(options)
          if not res then return {err = err} end
          local cookies = res.headers["set-cookie"]
          return {status = res.status, body = res.body, type = res.headers["CONTENT-TYPE"],
                  cookies = cookies, one = res.headers["x-one"], location = res.headers.location}
        end)
        app:get("/bad-option", function()
          local _, err = pcall(function() http.request{url = base, retries = 3} end)
          return tostring(err)
        end)
        return app
        """
    }

    private var upstream: TestServer!
    private var app: TestServer!

    override func setUpWithError() throws {
        upstream = try TestServer(source: Self.upstreamSource)
        app = try TestServer(source: Self.clientSource(upstream: upstream.port))
    }

    override func tearDown() {
        app = nil
        upstream = nil
    }

    private func call(_ options: [String: Any]) throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: options)
        let response = try app.request(
            "/call", method: "POST", headers: ["Content-Type": "application/json"], body: Array(body))
        XCTAssertEqual(response.status, 200, response.text)
        return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
    }

    private func upstreamEcho(_ result: [String: Any]) throws -> [String: Any] {
        let body = try XCTUnwrap(result["body"] as? String)
        return try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] ?? [:]
    }

    func testTwoHundredConcurrentCallsWaitTogetherOnOneWorker() throws {
        _ = try app.request("/fanout")  // the first connection and the client are made
        let clients = try (0..<200).map { _ in try app.client() }
        let start = Date()
        for client in clients { try client.send("GET /fanout HTTP/1.1\r\nHost: x\r\n\r\n") }
        for client in clients { XCTAssertEqual(try client.readResponse().text, "waited") }
        let elapsed = Date().timeIntervalSince(start)
        print("200 concurrent requests, each waiting 100 ms on an outbound call: \(Int(elapsed * 1000)) ms")
        XCTAssertLessThan(elapsed, 1.5, "the calls overlapped (200 in sequence take 20 s)")
    }

    func testResponseShapeHeadersAndDefaults() throws {
        let echo = try call(["url": "/echo"])
        XCTAssertEqual(echo["status"] as? Int, 200)
        XCTAssertEqual(echo["type"] as? String, "application/json; charset=UTF-8", "headers are case-insensitive")
        let sent = try upstreamEcho(echo)
        XCTAssertEqual(sent["method"] as? String, "GET")
        XCTAssertEqual(sent["ua"] as? String, "microdot-lua/\(MicrodotVersion.string)")

        let posted = try upstreamEcho(
            try call([
                "url": "/echo", "method": "POST", "json": ["a": 1], "headers": ["User-Agent": "mine", "X-Test": 7],
            ]))
        XCTAssertEqual(posted["method"] as? String, "POST")
        XCTAssertEqual(posted["type"] as? String, "application/json")
        XCTAssertEqual(posted["body"] as? String, #"{"a":1}"#)
        XCTAssertEqual(posted["ua"] as? String, "mine")
        XCTAssertEqual(posted["x"] as? String, "7")

        let twice = try call(["url": "/twice"])
        XCTAssertEqual(twice["status"] as? Int, 201)
        XCTAssertEqual(twice["cookies"] as? [String], ["a=1", "b=2"], "repeated headers are arrays")
        XCTAssertEqual(twice["one"] as? String, "1")
        XCTAssertEqual(try call(["url": "/nowhere"])["status"] as? Int, 404, "any status is a response")
    }

    func testAtTopLevelACallBlocks() throws {
        XCTAssertEqual(try app.request("/at-start").text.contains(#""status":200"#), true)
    }

    func testErrorsNameTheHost() throws {
        let closed = try TestServer(source: Self.upstreamSource)
        let port = closed.port
        closed.server.shutdown()
        try closed.server.wait()
        XCTAssertEqual(
            try call(["url": "http://127.0.0.1:\(port)/x"])["err"] as? String,
            "connection refused: 127.0.0.1:\(port)")
        XCTAssertEqual(try call(["url": "ftp://example/x"])["err"] as? String, "invalid URL: ftp://example/x")
        XCTAssertEqual(try call(["url": "not a url"])["err"] as? String, "invalid URL: not a url")
        let bad = try app.request("/bad-option").text
        XCTAssertTrue(bad.hasPrefix("app.lua:"), bad)
        XCTAssertTrue(bad.contains("http.request: unknown option 'retries'"), bad)
    }

    func testTimeoutAndMaxBody() throws {
        let start = Date()
        XCTAssertEqual(
            try call(["url": "/wait?s=1.5", "timeout": 0.3])["err"] as? String,
            "timeout after 0.3 s: 127.0.0.1:\(upstream.port)")
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        XCTAssertEqual(
            try call(["url": "/big?n=100", "max_body": 100])["body"] as? String, String(repeating: "x", count: 100))
        XCTAssertEqual(
            try call(["url": "/big?n=101", "max_body": 100])["err"] as? String,
            "response body over 100 bytes: 127.0.0.1:\(upstream.port)")
    }

    func testRedirectsOnlyWhenAskedAndAtMostFive() throws {
        let first = try call(["url": "/hop/2"])
        XCTAssertEqual(first["status"] as? Int, 302)
        XCTAssertEqual(first["location"] as? String, "/hop/1")
        XCTAssertEqual(try call(["url": "/hop/5", "follow_redirects": true])["body"] as? String, "landed")
        XCTAssertEqual(
            try call(["url": "/hop/6", "follow_redirects": true])["err"] as? String,
            "more than 5 redirects: 127.0.0.1:\(upstream.port)")
        let seeOther = try upstreamEcho(
            try call(["url": "/see-other", "method": "POST", "body": "x", "follow_redirects": true]))
        XCTAssertEqual(seeOther["method"] as? String, "GET", "303 turns into GET")
    }
}
