import XCTest

@testable import MicrodotLua

/// URL patterns, methods, HEAD, OPTIONS, 404 and 405 (spec section 2).
final class RoutingTests: XCTestCase {
    static var server: TestServer!

    override class func setUp() {
        server = try! TestServer(script: TestPaths.fixture("routes.lua"))
    }

    override class func tearDown() { server = nil }

    private func get(_ target: String, method: String = "GET") throws -> RawResponse {
        try Self.server.request(target, method: method)
    }

    func testIntegerSegmentIsALuaInteger() throws {
        let response = try get("/users/-42")
        XCTAssertEqual(response.status, 200)
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any]
        XCTAssertEqual(object["id"] as? Int, -42)
        XCTAssertEqual(object["type"] as? String, "integer")
        XCTAssertEqual(object["from_args"] as? Int, -42)
        XCTAssertEqual(try get("/users/abc").status, 404)
        XCTAssertEqual(try get("/users/1.5").status, 404)
    }

    func testStringSegmentIsPercentDecoded() throws {
        XCTAssertEqual(try get("/names/J%C3%BCrgen%20M").text, "Jürgen M")
        XCTAssertEqual(try get("/names/").status, 404)
        XCTAssertEqual(try get("/names/a/b").status, 404)
    }

    func testPathSegments() throws {
        XCTAssertEqual(try get("/files/a/b/c.txt").text, "a/b/c.txt")
        XCTAssertEqual(try get("/files/a/b/edit").text, "a/b/edit", "the first matching route wins")
        XCTAssertEqual(try get("/tree/a/b/edit").text, "edit a/b")
    }

    func testRegexAndCustomSegments() throws {
        XCTAssertEqual(try get("/hex/ff00").text, "hex ff00")
        XCTAssertEqual(try get("/hex/xyz").status, 404)
        XCTAssertEqual(try get("/upper/HELLO").text, "hello")
        XCTAssertEqual(try get("/upper/NONE").status, 404, "a parser returning nil means no match")
        XCTAssertEqual(try get("/upper/lower").status, 404)
        XCTAssertEqual(try get("/two/x/7").text, "x+7")
    }

    func testLiteralSegmentsMatchLiterally() throws {
        XCTAssertEqual(try get("/literal/file.txt").text, "literal")
        XCTAssertEqual(try get("/literal/fileXtxt").status, 404)
    }

    func testMethods() throws {
        XCTAssertEqual(try get("/items", method: "POST").text, "POST items")
        XCTAssertEqual(try get("/put", method: "PUT").text, "put")
        XCTAssertEqual(try get("/patch", method: "PATCH").text, "patch")
        XCTAssertEqual(try get("/delete", method: "DELETE").text, "delete")
        XCTAssertEqual(try get("/same", method: "POST").text, "post same", "a later route can take the method")
    }

    func testMethodNotAllowed() throws {
        let response = try get("/put")
        XCTAssertEqual(response.status, 405)
        XCTAssertEqual(response.reason, "Method Not Allowed")
        XCTAssertEqual(response.header("Allow"), "PUT, OPTIONS")
        XCTAssertEqual(response.text, "Method not allowed")
    }

    func testNotFound() throws {
        let response = try get("/nowhere")
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.text, "Not found")
        XCTAssertEqual(response.header("Content-Type"), "text/plain; charset=UTF-8")
    }

    func testHeadRunsGetWithoutBody() throws {
        let client = try Self.server.client()
        let head = try client.request("/ret/text", method: "HEAD")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), "4")
        XCTAssertEqual(head.body, [])
        // The connection is still in step: the next response is whole.
        XCTAssertEqual(try client.request("/ret/text").text, "text")
        let streamHead = try client.request("/stream-function", method: "HEAD")
        XCTAssertEqual(streamHead.status, 200)
        XCTAssertEqual(try client.request("/ret/status").text, "text")
    }

    func testOptionsListsMethods() throws {
        let response = try get("/items", method: "OPTIONS")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Allow"), "GET, POST, HEAD, OPTIONS")
        let same = try get("/same", method: "OPTIONS")
        XCTAssertEqual(same.header("Allow"), "GET, POST, HEAD, OPTIONS")
        XCTAssertEqual(try get("/nowhere", method: "OPTIONS").header("Allow"), "OPTIONS")
    }

    func testModulesFromTheScriptFolder() throws {
        XCTAssertEqual(try get("/ret/helper").text, "hello from module")
    }
}
