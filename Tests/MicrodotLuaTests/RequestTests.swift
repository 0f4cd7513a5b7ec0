import XCTest

@testable import MicrodotLua

/// request_app.lua over a real socket: request attributes, bodies, limits,
/// hooks, error handlers and mounted apps (request_spec.lua covers the same
/// app through the test client).
final class RequestTests: XCTestCase {
    private var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer(script: TestPaths.fixture("request_app.lua"))
    }

    override func tearDown() {
        server = nil
    }

    private func json(_ response: RawResponse, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            XCTFail("not a JSON object: \(response.text)", file: file, line: line)
            return [:]
        }
        return object
    }

    // MARK: Attributes

    func testRequestAttributes() throws {
        let response = try server.request(
            "/inspect/caf%C3%A9?x=1&y=2", method: "POST",
            headers: ["Content-Type": "text/plain", "x-test": "t"], body: Array("hello".utf8))
        XCTAssertEqual(response.status, 200, response.text)
        let body = json(response)
        XCTAssertEqual(body["method"] as? String, "POST")
        XCTAssertEqual(body["url"] as? String, "/inspect/caf%C3%A9?x=1&y=2")
        XCTAssertEqual(body["path"] as? String, "/inspect/café")
        XCTAssertEqual(body["query_string"] as? String, "x=1&y=2")
        XCTAssertEqual(body["http_version"] as? String, "1.1")
        XCTAssertEqual(body["scheme"] as? String, "http")
        XCTAssertEqual(body["client_host"] as? String, "127.0.0.1")
        XCTAssertEqual(body["client_port_type"] as? String, "integer")
        XCTAssertEqual(body["content_length"] as? Int, 5)
        XCTAssertEqual(body["content_type"] as? String, "text/plain")
        XCTAssertEqual(body["body"] as? String, "hello")
        XCTAssertEqual(body["url_args"] as? [String: String], ["name": "café"])
        XCTAssertEqual(body["name"] as? String, "café")
        XCTAssertEqual(body["url_prefix"] as? String, "")
        XCTAssertEqual(body["same_app"] as? Bool, true)
        XCTAssertEqual(body["header"] as? String, "t")
        XCTAssertEqual(body["header_upper"] as? String, "t")
    }

    func testHTTP10Version() throws {
        let response = try server.client().request("/inspect/v", version: "HTTP/1.0")
        XCTAssertEqual(json(response)["http_version"] as? String, "1.0")
    }

    func testChunkedRequestBody() throws {
        let client = try server.client()
        try client.send(
            "POST /inspect/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        let body = json(try client.readResponse())
        XCTAssertEqual(body["body"] as? String, "hello world")
        XCTAssertEqual(body["content_length"] as? Int, 11)
    }

    func testQueryStringsAreMultiDicts() throws {
        let body = json(try server.request("/args?q=one&q=two&n=42&bad=x&a+b=c%26d&empty"))
        XCTAssertEqual(body["q"] as? String, "one")
        XCTAssertEqual(body["all"] as? [String], ["one", "two"])
        XCTAssertEqual(body["n"] as? Int, 42)
        XCTAssertEqual(body["missing"] as? String, "default")
        XCTAssertEqual(body["bad"] as? Int, -1)
        XCTAssertEqual(body["decoded"] as? String, "c&d")
        XCTAssertEqual(body["empty"] as? String, "")
    }

    // MARK: Bodies

    func testURLEncodedForm() throws {
        let response = try server.request(
            "/form", method: "POST", headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Array("name=Ada+Lovelace&tag=a&tag=b%2Fc&age=36".utf8))
        let body = json(response)
        XCTAssertEqual(body["name"] as? String, "Ada Lovelace")
        XCTAssertEqual(body["tags"] as? [String], ["a", "b/c"])
        XCTAssertEqual(body["age"] as? Int, 36)
    }

    func testMultipartUpload() throws {
        let binary: [UInt8] = [0, 1, 2, 255, 13, 10, 45, 45]
        var body = Array("--B0und\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n".utf8)
        body += Array(
            "--B0und\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/x-thing\r\n\r\n"
                .utf8)
        body += binary
        body += Array("\r\n--B0und--\r\n".utf8)
        let response = try server.request(
            "/upload", method: "POST", headers: ["Content-Type": "multipart/form-data; boundary=B0und"], body: body)
        XCTAssertEqual(response.status, 200, response.text)
        let object = json(response)
        XCTAssertEqual(object["title"] as? String, "holiday")
        let uploads = object["uploads"] as? [[String: Any]] ?? []
        XCTAssertEqual(uploads.count, 1)
        XCTAssertEqual(uploads.first?["filename"] as? String, "a.bin")
        XCTAssertEqual(uploads.first?["content_type"] as? String, "application/x-thing")
        XCTAssertEqual(uploads.first?["size"] as? Int, binary.count)
        XCTAssertEqual(uploads.first?["hex"] as? String, "000102ff0d0a2d2d")
    }

    func testMalformedMultipartIsABadRequest() throws {
        let response = try server.request(
            "/upload", method: "POST", headers: ["Content-Type": "multipart/form-data; boundary=B"],
            body: Array("--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno closing".utf8))
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.text, "Bad request")
    }

    func testJSONBody() throws {
        let response = try server.request(
            "/json", method: "POST", headers: ["Content-Type": "application/json"], body: Array(#"{"a":[1,2]}"#.utf8))
        let body = json(response)
        XCTAssertEqual(body["kind"] as? String, "table")
        XCTAssertEqual((body["got"] as? [String: Any])?["a"] as? [Int], [1, 2])
    }

    func testMalformedJSONIsABadRequestAndTheConnectionGoesOn() throws {
        let client = try server.client()
        let bad = try client.request(
            "/json", method: "POST", headers: ["Content-Type": "application/json"], body: Array("{oops".utf8))
        XCTAssertEqual(bad.status, 400)
        XCTAssertEqual(bad.text, "Bad request")
        XCTAssertEqual(bad.header("X-After-Error"), "400")
        XCTAssertEqual(try client.request("/args?q=next").status, 200)
    }

    func testCookies() throws {
        let body = json(try server.request("/cookies", headers: ["Cookie": "a=1; b = two ; flag"]))
        XCTAssertEqual(body as? [String: String], ["a": "1", "b": "two", "flag": ""])
        let set = try server.request("/set-cookies")
        XCTAssertEqual(set.headers("Set-Cookie"), ["session=abc; Path=/", "theme=dark"])
    }

    // MARK: Limits

    func testDeclaredBodyOverTheLimitIs413WithoutReadingIt() throws {
        let client = try server.client()
        // Only the head is sent: the answer must not wait for 1 MiB of body.
        try client.send("POST /inspect/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.text, "Payload too large")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertEqual(response.header("X-After-Error"), "413")
        XCTAssertTrue(try client.isClosed())
    }

    func testChunkedBodyOverTheLimitIs413() throws {
        let client = try server.client()
        let chunk = String(repeating: "x", count: 32 * 1024)
        var request = "POST /inspect/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in 0..<3 { request += "8000\r\n\(chunk)\r\n" }
        request += "0\r\n\r\n"
        try client.send(request)
        XCTAssertEqual(try client.readResponse().status, 413)
    }

    func testBodyAtTheLimitIsAccepted() throws {
        let response = try server.request(
            "/inspect/fits", method: "POST", body: Array(repeating: 120, count: 64 * 1024))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(json(response)["content_length"] as? Int, 64 * 1024)
    }

    func testHeaderLineOverMaxReadlineIs431AndCloses() throws {
        let client = try server.client()
        try client.send("GET /args HTTP/1.1\r\nHost: x\r\nX-Long: \(String(repeating: "a", count: 9000))\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 431)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(try client.isClosed())
        XCTAssertEqual(try server.request("/args").status, 200, "the server keeps serving")
    }

    func testRequestLineOverMaxReadlineIs414() throws {
        let client = try server.client()
        try client.send("GET /args?q=\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 414)
        XCTAssertTrue(try client.isClosed())
    }

    func testTooManyHeadersIs431() throws {
        let client = try server.client()
        var request = "GET /args HTTP/1.1\r\nHost: x\r\n"
        for index in 0..<150 { request += "X-H\(index): v\r\n" }
        try client.send(request + "\r\n")
        XCTAssertEqual(try client.readResponse().status, 431)
    }

    func testMalformedRequestIs400AndCloses() throws {
        let client = try server.client()
        try client.send("GET /args HTTP/1.1\r\nHost x\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.text, "Bad request")
        XCTAssertTrue(try client.isClosed())
    }

    func testConflictingLengthHeadersAre400() throws {
        let client = try server.client()
        try client.send("POST /inspect/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde")
        XCTAssertEqual(try client.readResponse().status, 400)
    }

    // MARK: Hooks and handlers

    func testHooksRunInOrder() throws {
        let response = try server.request("/trail")
        XCTAssertEqual(response.header("X-Trail"), "app-before,admin-before,route,app-after")
        XCTAssertEqual(response.header("X-After"), "yes")
        XCTAssertNil(response.header("X-After-Error"))
    }

    func testBeforeRequestCanAnswer() throws {
        let response = try server.request("/trail", headers: ["X-Deny": "1"])
        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(response.text, "denied")
    }

    func testGlobalsPerRequest() throws {
        XCTAssertEqual(json(try server.request("/g", headers: ["X-User": "ada"]))["user"] as? String, "ada")
        XCTAssertTrue(json(try server.request("/g"))["user"] is NSNull)
    }

    func testRequestHookReplacesTheResponse() throws {
        let response = try server.request("/replace")
        XCTAssertEqual(response.status, 202)
        XCTAssertEqual(response.text, "replaced by the request's hook")
    }

    func testCustom404Handler() throws {
        let response = try server.request("/nowhere")
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(json(response)["error"] as? String, "not here")
        XCTAssertEqual(response.header("X-After-Error"), "404")
    }

    func testMethodNotAllowed() throws {
        let response = try server.request("/only-get", method: "POST")
        XCTAssertEqual(response.status, 405)
        XCTAssertEqual(response.header("Allow"), "GET, HEAD, OPTIONS")
    }

    func testErrorClassThroughInheritance() throws {
        let response = try server.request("/raise/field")
        XCTAssertEqual(response.status, 422)
        XCTAssertEqual(json(response)["invalid"] as? String, "email")
        let unclassed = try server.request("/raise/other")
        XCTAssertEqual(unclassed.status, 500)
        XCTAssertEqual(unclassed.text, "Internal server error")
        XCTAssertTrue(server.log.text.contains("request_app.lua:"), server.log.text)
    }

    func testAbort() throws {
        let plain = try server.request("/abort/418")
        XCTAssertEqual(plain.status, 418)
        XCTAssertEqual(plain.text, "418 error")
        let reasoned = try server.request("/abort-reason")
        XCTAssertEqual(reasoned.status, 406)
        XCTAssertEqual(reasoned.text, "Not acceptable here")
    }

    func testMountWithLocalHooks() throws {
        let response = try server.request("/api/items/5")
        XCTAssertEqual(json(response)["url_prefix"] as? String, "/api")
        XCTAssertEqual(response.header("X-Trail"), "app-before,admin-before,api-before,route,api-after,app-after")
        XCTAssertEqual(try server.request("/api/items/0").text, "api: no such item")
        XCTAssertEqual(try server.request("/api/items/1").text, "api conflict")
        XCTAssertEqual(try server.request("/conflict").text, "409 error")
    }

    func testMountSharingHooks() throws {
        let allowed = try server.request("/admin/panel", headers: ["X-Admin": "yes"])
        XCTAssertEqual(json(allowed)["url_prefix"] as? String, "/admin")
        XCTAssertEqual(try server.request("/admin/panel").text, "admin only")
        XCTAssertEqual(try server.request("/needs-login").text, "admin only")
    }

    func testDebugLogShowsMethodPathStatus() throws {
        let debugServer = try TestServer(
            app: MicrodotApp(scriptPath: TestPaths.fixture("request_app.lua")), debug: true)
        _ = try debugServer.request("/args?secret=1")
        XCTAssertTrue(debugServer.log.text.contains("GET /args 200"), debugServer.log.text)
        XCTAssertFalse(debugServer.log.text.contains("secret"), debugServer.log.text)
    }
}
