import NIOHTTP1
import XCTest

@testable import MicrodotLua

/// The request rules of RFC 9110 and RFC 9112 the server enforces itself
/// (`RequestRules`, and the parser's errors the connection maps), as one
/// table: each row a raw request, what it gets and what becomes of the
/// connection, and the section that says so. Each request is followed on
/// the same connection by `GET /next`: a connection that stays open answers
/// it, one that closes does not.
final class RequestRulesTests: XCTestCase {
    private static let app = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        local function echo(req)
          local body = req.body or ""
          return req.method .. " " .. req.path .. " x=" .. tostring(req.args.x)
            .. " host=" .. tostring(req.headers["Host"]) .. " body=" .. body
        end
        app:route("/echo", {"GET", "POST", "OPTIONS"}, echo)
        app:get("/", function(req) return "root" end)
        app:get("/next", function(req) return "next" end)
        return app
        """

    private struct Row {
        /// The RFC section that says what happens.
        let rule: String
        let request: String
        let status: Int
        /// The start of the body of the response, when it matters.
        var body: String? = nil
        /// Whether the connection closes after the response.
        let closes: Bool
        /// The start of the body of the response to a second request sent
        /// in the same row, pipelined behind the first.
        var pipelinedBody: String? = nil
    }

    private static let rows: [Row] = [
        // Request target (RFC 9112 section 3.2).
        Row(
            rule: "RFC 9112 3.2.1 origin-form", request: "GET /echo?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
            status: 200, body: "GET /echo x=1 host=h", closes: false),
        Row(
            rule: "RFC 9112 3.2.2 absolute-form is accepted; its authority replaces Host",
            request: "GET http://example.com:8080/echo?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
            status: 200, body: "GET /echo x=1 host=example.com:8080", closes: false),
        Row(
            rule: "RFC 9112 3.2.2 absolute-form without a path is the root; RFC 9110 4.2.3 scheme is caseless",
            request: "GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
            status: 200, body: "root", closes: false),
        Row(
            rule: "RFC 9112 3.2.2 absolute-form with a query and no path",
            request: "GET http://h?x=2 HTTP/1.1\r\nHost: h\r\n\r\n", status: 200, body: "root", closes: false),
        Row(
            rule: "RFC 9110 4.2.1 an http URI has a host", request: "GET http:///echo HTTP/1.1\r\nHost: h\r\n\r\n",
            status: 400, closes: true),
        Row(
            rule: "RFC 9110 4.2.4 userinfo in an http URI is an error",
            request: "GET http://user@h/echo HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, closes: true),
        Row(
            rule: "RFC 9112 3.2.4 asterisk-form is for OPTIONS only", request: "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
            status: 400, closes: true),
        Row(
            rule: "RFC 9112 3.2.3 authority-form is for CONNECT only",
            request: "GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, closes: true),
        Row(
            rule: "RFC 9110 9.3.6 and 9.1 CONNECT is not implemented: 501, and no tunnel bytes are read",
            request: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", status: 501,
            closes: true),
        // Host (RFC 9112 section 3.2).
        Row(
            rule: "RFC 9112 3.2 an HTTP/1.1 request without Host is 400", request: "GET /echo HTTP/1.1\r\n\r\n",
            status: 400, closes: true),
        Row(
            rule: "RFC 9112 3.2 more than one Host is 400",
            request: "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400, closes: true),
        Row(
            rule: "RFC 9112 3.2 an invalid Host is 400", request: "GET /echo HTTP/1.1\r\nHost: a/b\r\n\r\n",
            status: 400, closes: true),
        Row(
            rule: "RFC 9112 3.2 an invalid Host port is 400", request: "GET /echo HTTP/1.1\r\nHost: a:8x\r\n\r\n",
            status: 400, closes: true),
        Row(
            rule: "RFC 9112 3.2 Host with a port", request: "GET /echo HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
            status: 200, body: "GET /echo x=nil host=a.example:8080", closes: false),
        Row(
            rule: "RFC 9112 3.2 Host as an IP literal", request: "GET /echo HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
            status: 200, body: "GET /echo x=nil host=[::1]:80", closes: false),
        Row(
            rule: "RFC 9112 3.2 an empty Host is allowed", request: "GET /echo HTTP/1.1\r\nHost:\r\n\r\n",
            status: 200, closes: false),
        Row(
            rule: "RFC 9112 3.2 HTTP/1.0 needs no Host; RFC 9112 9.3 and C.2.2 it closes by default",
            request: "GET /echo HTTP/1.0\r\n\r\n", status: 200, body: "GET /echo x=nil host=nil", closes: true),
        Row(
            rule: "RFC 9112 C.2.2 an HTTP/1.0 keep-alive request keeps the connection",
            request: "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", status: 200, closes: false),
        // Message body framing (RFC 9112 sections 6.1-6.3).
        Row(
            rule: "RFC 9112 6.1 chunked is understood",
            request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            status: 200, body: "POST /echo x=nil host=h body=hello", closes: false),
        Row(
            rule: "RFC 9112 6.3 rule 4 chunked not final is 400 and close",
            request:
                "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            status: 400, closes: true),
        Row(
            rule: "RFC 9112 6.3 rule 4 a coding without chunked is 400 and close",
            request: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\nhello", status: 400,
            closes: true),
        Row(
            rule: "RFC 9112 6.1 chunked is applied once only",
            request:
                "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n0\r\n\r\n",
            status: 400, closes: true),
        Row(
            rule: "RFC 9112 6.1 a transfer coding the server does not understand is 501",
            request:
                "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            status: 501, closes: true),
        Row(
            rule: "RFC 9112 6.1 Transfer-Encoding in HTTP/1.0 is faulty framing: 400 and close",
            request: "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", status: 400,
            closes: true),
        Row(
            rule: "RFC 9112 6.3 rule 3 Content-Length with Transfer-Encoding is refused (parser)",
            request:
                "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            status: 400, closes: true),
        Row(
            rule: "RFC 9112 6.2 and 6.3 rule 6 an HTTP/1.0 body has a Content-Length",
            request: "POST /echo HTTP/1.0\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello", status: 200,
            body: "POST /echo x=nil host=nil body=hello", closes: false),
        Row(
            rule: "RFC 9112 6.3 rule 7 a request with neither has no body",
            request: "POST /echo HTTP/1.1\r\nHost: h\r\n\r\n", status: 200, body: "POST /echo x=nil host=h body=",
            closes: false),
        // Connection (RFC 9112 sections 9.3 and 9.6).
        Row(
            rule: "RFC 9112 9.3 close wins over keep-alive in HTTP/1.0",
            request: "GET /echo HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", status: 200, closes: true),
        Row(
            rule: "RFC 9112 9.3 close in a second Connection line",
            request: "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\nConnection: Close\r\n\r\n", status: 200,
            closes: true),
        Row(
            rule: "RFC 9112 9.3 HTTP/1.0 keep-alive stays open",
            request: "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", status: 200, closes: false),
        // A declared length past any integer is over the limit at once.
        Row(
            rule: "RFC 9110 8.6 a Content-Length past 2^63 is answered 413 before its body, not 100 Continue",
            request:
                "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n"
                + "Expect: 100-continue\r\n\r\n", status: 413, closes: true),
        // Field values (RFC 9112 section 5.1).
        Row(
            rule: "RFC 9112 5.1 the whitespace around a field value is not part of it",
            request: "GET /echo HTTP/1.1\r\nHost: \th \t\r\nX-A: a \r\n\r\n", status: 200,
            body: "GET /echo x=nil host=h body=", closes: false),
        // Methods (RFC 9110 section 9.1, RFC 9112 section 3).
        Row(
            rule:
                "RFC 9112 3 an invalid request-line is 400; the parser reports an unknown method (FOO, or get: "
                + "methods are case-sensitive) as it reports a line that is not HTTP (a TLS hello), so 400, "
                + "not RFC 9110 9.1's 501 (documented deviation)",
            request: "FOO /echo HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, closes: true),
        Row(
            rule: "RFC 9112 3 the same for a lower-case method",
            request: "get /echo HTTP/1.1\r\nHost: h\r\n\r\n", status: 400, closes: true),
        // Versions (RFC 9110 sections 2.5 and 15.6.6).
        Row(
            rule: "RFC 9110 15.6.6 a major version other than 1 is 505",
            request: "GET /echo HTTP/2.0\r\nHost: h\r\n\r\n",
            status: 505, closes: true),
        Row(
            rule: "RFC 9110 2.5 a higher minor version is served as HTTP/1.1",
            request: "GET /echo HTTP/1.2\r\nHost: h\r\n\r\n", status: 200, body: "GET /echo x=nil host=h",
            closes: false),
        Row(
            rule: "RFC 9110 2.5 HTTP/1.9, pipelined behind a chunked body that holds an HTTP/1.2 request line",
            request:
                "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10;ext=1\r\nGET / HTTP/1.2\r\n\r\n"
                + "0\r\n\r\nGET /echo?x=2 HTTP/1.9\r\nHost: h\r\n\r\n",
            status: 200, body: "POST /echo x=nil host=h body=GET / HTTP/1.2\r\n", closes: false,
            pipelinedBody: "GET /echo x=2 host=h"),
        Row(
            rule: "RFC 9112 2.3 a version has one digit on each side of the dot: HTTP/1.10 is not 1.1",
            request: "GET /echo HTTP/1.10\r\nHost: h\r\n\r\n", status: 505, closes: true),
        Row(
            rule: "RFC 9112 2.3 the protocol name is case-sensitive: http/1.2 is not a version",
            request: "GET /echo http/1.2\r\nHost: h\r\n\r\n", status: 400, closes: true),
        // Protocols the server does not speak (RFC 9110 section 7.8).
        Row(
            rule: "RFC 9110 7.8 Upgrade is ignored: served as HTTP/1.1, then the connection closes",
            request: "GET /echo HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            status: 200, body: "GET /echo", closes: true),
        Row(
            rule: "RFC 9110 7.8 Upgrade to h2c is ignored the same way",
            request:
                "GET /echo HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
            status: 200, body: "GET /echo", closes: true),
        Row(
            rule: "RFC 9112 3.2.4 and RFC 9110 9.3.7 OPTIONS * reaches the app (Microdot answers OPTIONS)",
            request: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", status: 200, closes: false),
    ]

    func testTheRequestRulesTable() throws {
        let server = try TestServer(source: Self.app)
        for row in Self.rows {
            let client = try RawHTTPClient(port: server.port, timeoutSeconds: 5)
            try client.send(row.request + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, row.status, row.rule)
            XCTAssertEqual(response.version, "HTTP/1.1", row.rule)
            if let body = row.body {
                XCTAssertTrue(response.text.hasPrefix(body), "\(row.rule): \(response.text)")
            }
            if let pipelinedBody = row.pipelinedBody {
                let second = try client.readResponse()
                XCTAssertEqual(second.status, 200, row.rule)
                XCTAssertTrue(second.text.hasPrefix(pipelinedBody), "\(row.rule): \(second.text)")
            }
            if row.closes {
                XCTAssertEqual(response.header("Connection")?.lowercased(), "close", row.rule)
                XCTAssertTrue(try client.isClosed(), "\(row.rule): nothing answered after it")
            } else {
                XCTAssertEqual(try client.readResponse().text, "next", "\(row.rule): the connection stays usable")
            }
        }
    }

    /// RFC 9110 10.1.1: an HTTP/1.0 client gets no 100 Continue; an HTTP/1.1
    /// one does.
    func testExpectContinueIsIgnoredInHTTP10() throws {
        let server = try TestServer(source: Self.app)
        let old = try RawHTTPClient(port: server.port, timeoutSeconds: 1)
        try old.send("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        XCTAssertThrowsError(try old.readResponse(), "nothing before the body arrives")
        try old.send("hello")
        let response = try old.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "POST /echo x=nil host=nil body=hello")

        let current = try RawHTTPClient(port: server.port, timeoutSeconds: 5)
        try current.send("POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        XCTAssertEqual(try current.readResponse().status, 100)
        try current.send("hello")
        XCTAssertEqual(try current.readResponse().status, 200)
    }

    /// RFC 9110 10.1.1: a request pipelined behind a slow one gets its 100
    /// Continue when its turn comes (after the response before it), not
    /// never.
    func testAPipelinedExpectContinueGetsItsHundredInTurn() throws {
        let server = try TestServer(
            source: """
                local microdot = require("microdot")
                local app = microdot.Microdot()
                app:get("/slow", function(req) microdot.sleep(0.3); return "slow" end)
                app:post("/echo", function(req) return "got " .. req.body end)
                return app
                """)
        let client = try RawHTTPClient(port: server.port, timeoutSeconds: 5)
        try client.send(
            "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"
                + "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        XCTAssertEqual(try client.readResponse().text, "slow")
        XCTAssertEqual(try client.readResponse().status, 100, "the 100 comes after the response before it")
        try client.send("hello")
        XCTAssertEqual(try client.readResponse().text, "got hello")
    }

    // MARK: The rules alone

    func testTrailingWhitespaceLeavesEveryFieldValue() {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        head.headers.add(contentsOf: [
            ("Host", "h \t"), ("Origin", "https://a.example "), ("Sec-Fetch-Site", "same-origin\t"), ("X-Empty", " "),
            ("X-Inner", "a  b"),
        ])
        XCTAssertEqual(RequestRules.check(&head).verdict, .serve)
        XCTAssertEqual(
            head.headers.map { "\($0.name)=\($0.value)|" }.joined(),
            "Host=h|Origin=https://a.example|Sec-Fetch-Site=same-origin|X-Empty=|X-Inner=a  b|")
    }

    func testHostValues() {
        for valid in ["", "h", "a.example", "a.example:80", "a:", "[::1]", "[::1]:8080", "%41b", "a-b_c~d!$&'()*+,;="] {
            XCTAssertTrue(RequestRules.isValidHost(valid), valid)
        }
        for invalid in ["a b", "a/b", "a:8x", "[::1", "[]", "[::1]x", "a@b", "a:1:2", "é"] {
            XCTAssertFalse(RequestRules.isValidHost(invalid), invalid)
        }
    }
}
