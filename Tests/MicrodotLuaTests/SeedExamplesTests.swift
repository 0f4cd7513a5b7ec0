import XCTest

@testable import MicrodotLua

/// Every example of the seed page (Microdot's "Responses" chapter), as its
/// Lua twin in examples/responses, over a real socket.
final class SeedExamplesTests: XCTestCase {
    private func serve(_ name: String) throws -> TestServer {
        try TestServer(script: TestPaths.example("responses/\(name).lua"))
    }

    private func fileBytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: TestPaths.example(path))))
    }

    func testBodyOnly() throws {
        let response = try serve("body").request("/")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.reason, "OK")
        XCTAssertEqual(response.header("Content-Type"), "text/plain; charset=UTF-8")
        XCTAssertEqual(response.header("Content-Length"), "13")
        XCTAssertEqual(response.text, "Hello, World!")
    }

    func testBodyAndStatus() throws {
        let response = try serve("status").request("/")
        XCTAssertEqual(response.status, 202)
        XCTAssertEqual(response.reason, "Accepted")
        XCTAssertEqual(response.header("Content-Type"), "text/plain; charset=UTF-8")
        XCTAssertEqual(response.text, "Hello, World!")
    }

    func testBodyStatusAndHeaders() throws {
        let response = try serve("headers").request("/")
        XCTAssertEqual(response.status, 202)
        XCTAssertEqual(response.header("Content-Type"), "text/html")
        XCTAssertEqual(response.header("Content-Length"), "22")
        XCTAssertEqual(response.text, "<h1>Hello, World!</h1>")
    }

    func testStatusOnly() throws {
        let response = try serve("status_only").request("/")
        XCTAssertEqual(response.status, 204)
        XCTAssertEqual(response.reason, "No Content")
        XCTAssertNil(response.header("Content-Length"), "RFC 9110: no Content-Length on 204")
        XCTAssertEqual(response.header("Content-Type"), "text/plain; charset=UTF-8")
        XCTAssertEqual(response.body, [])
    }

    func testBodyAndHeadersWithoutStatus() throws {
        let response = try serve("body_and_headers").request("/")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "text/html")
        XCTAssertEqual(response.text, "<h1>Hello, World!</h1>")
    }

    func testResponseObject() throws {
        let response = try serve("response_object").request("/")
        XCTAssertEqual(response.status, 202)
        XCTAssertEqual(response.reason, "Accepted For Later")
        XCTAssertEqual(response.header("Content-Type"), "text/html")
        XCTAssertEqual(response.text, "<h1>Hello, World!</h1>")
    }

    func testJSON() throws {
        let response = try serve("json").request("/")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "application/json; charset=UTF-8")
        XCTAssertEqual(response.text, #"{"hello":"world"}"#)
        XCTAssertEqual(response.header("Content-Length"), "17")
    }

    func testRedirect() throws {
        let response = try serve("redirect").request("/")
        XCTAssertEqual(response.status, 302)
        XCTAssertEqual(response.reason, "Found")
        XCTAssertEqual(response.header("Location"), "/about")
        XCTAssertEqual(response.header("Content-Length"), "0")
        XCTAssertEqual(response.body, [])
    }

    func testSendFile() throws {
        let response = try serve("send_file").request("/")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "text/html")
        XCTAssertNil(response.header("Cache-Control"))
        let expected = try fileBytes("responses/static/index.html")
        XCTAssertEqual(response.header("Content-Length"), String(expected.count))
        XCTAssertEqual(response.body, expected)
    }

    func testSendFileWithMaxAge() throws {
        let response = try serve("send_file_max_age").request("/")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "image/jpeg")
        XCTAssertEqual(response.header("Cache-Control"), "max-age=3600")
        XCTAssertEqual(response.body, try fileBytes("responses/static/image.jpg"))
    }

    func testStaticRoute() throws {
        let server = try serve("static")
        let css = try server.request("/static/style.css")
        XCTAssertEqual(css.status, 200)
        XCTAssertEqual(css.header("Content-Type"), "text/css")
        XCTAssertEqual(css.header("Cache-Control"), "max-age=86400")
        XCTAssertEqual(css.body, try fileBytes("responses/static/style.css"))

        let image = try server.request("/static/image.jpg")
        XCTAssertEqual(image.body, try fileBytes("responses/static/image.jpg"))

        for traversal in ["/static/../static.lua", "/static/%2e%2e/static.lua", "/static/a/..%2F..%2Fstatic.lua"] {
            let refused = try server.request(traversal)
            XCTAssertEqual(refused.status, 404, traversal)
            XCTAssertEqual(refused.text, "Not found", traversal)
        }

        // A missing file raises in send_file: an unhandled error is a 500.
        let missing = try server.request("/static/missing.txt")
        XCTAssertEqual(missing.status, 500)
        XCTAssertEqual(missing.text, "Internal server error")
        XCTAssertTrue(server.log.text.contains("missing.txt"), server.log.text)
    }

    func testFibonacciStream() throws {
        let response = try serve("fibonacci").request("/fibonacci")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Transfer-Encoding"), "chunked")
        XCTAssertNil(response.header("Content-Length"))
        XCTAssertEqual(response.header("Content-Type"), "text/plain; charset=UTF-8")
        let numbers = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
        XCTAssertEqual(response.chunks?.map { String(decoding: $0, as: UTF8.self) }, numbers.map { "\($0)\n" })
        XCTAssertEqual(response.text, numbers.map { "\($0)\n" }.joined())
    }

    func testFibonacciStreamToHTTP10EndsAtClose() throws {
        let server = try serve("fibonacci")
        let client = try server.client()
        let response = try client.request("/fibonacci", version: "HTTP/1.0")
        XCTAssertNil(response.header("Transfer-Encoding"))
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertEqual(response.text, "0\n1\n1\n2\n3\n5\n8\n13\n21\n34\n55\n89\n")
        XCTAssertTrue(client.closedByPeer)
    }

    func testDefaultContentType() throws {
        let response = try serve("default_content_type").request("/")
        XCTAssertEqual(response.header("Content-Type"), "text/html; charset=UTF-8")
        XCTAssertEqual(response.text, "<h1>Hello, World!</h1>")
    }

    func testCookieFromAfterRequestHandler() throws {
        let response = try serve("cookie_after_request").request("/")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers("Set-Cookie"), ["name=value"])
        XCTAssertEqual(response.text, "Hello, World!")
    }

    func testCookieOnResponseObject() throws {
        let response = try serve("cookie_response").request("/")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers("Set-Cookie"), ["name=value"])
        XCTAssertEqual(response.text, "Hello, World!")
    }

    func testHelloExample() throws {
        let server = try TestServer(script: TestPaths.example("hello/app.lua"))
        XCTAssertEqual(try server.request("/").text, "Hello, World!")
        XCTAssertEqual(try server.request("/hello/Ada%20L").text, #"{"greeting":"Hello, Ada L!"}"#)
    }
}
