import XCTest

@testable import MicrodotLua

/// Spec sections 3 and 4: return values, Response objects, cookies,
/// redirects, send_file, streams.
final class ResponseRulesTests: XCTestCase {
    static var server: TestServer!

    override class func setUp() {
        server = try! TestServer(script: TestPaths.fixture("routes.lua"))
    }

    override class func tearDown() { server = nil }

    private func get(_ target: String) throws -> RawResponse { try Self.server.request(target) }

    func testReturnValueRows() throws {
        var response = try get("/ret/status-headers")
        XCTAssertEqual(response.status, 202)
        XCTAssertEqual(response.header("X-One"), "1")
        XCTAssertEqual(response.header("Content-Type"), "text/html")

        response = try get("/ret/headers")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("X-Two"), "2")
        XCTAssertEqual(response.text, "text")

        response = try get("/ret/status-only-headers")
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.header("X-Three"), "3")
        XCTAssertEqual(response.header("Content-Length"), "0")
        XCTAssertEqual(response.body, [])

        for target in ["/ret/nil", "/ret/nothing", "/ret/204"] {
            response = try get(target)
            XCTAssertEqual(response.status, 204, target)
            XCTAssertEqual(response.body, [], target)
        }

        response = try get("/ret/response")
        XCTAssertEqual(response.status, 203)
        XCTAssertEqual(response.header("X-Made"), "yes")
        XCTAssertEqual(response.text, "made")

        response = try get("/ret/empty-response")
        XCTAssertEqual(response.status, 200, "Response() with no arguments is an empty 200, as Microdot")
        XCTAssertEqual(response.header("Content-Length"), "0")
    }

    /// A plain string or table return is written under a prebuilt head; it
    /// must be the same response, byte for byte, as the Response object.
    func testPlainReturnsAnswerAsTheirResponseObjects() throws {
        func withoutDate(_ response: RawResponse) -> [String] {
            response.headers.filter { $0.name != "Date" }.map { "\($0.name): \($0.value)" }
        }
        for name in ["text", "object", "array", "empty", "status", "object-status", "unknown-status", "not-found"] {
            for (method, version) in [("GET", "HTTP/1.1"), ("HEAD", "HTTP/1.1"), ("GET", "HTTP/1.0")] {
                let what = "\(name) \(method) \(version)"
                let plain = try Self.server.client().request("/plain/\(name)", method: method, version: version)
                let made = try Self.server.client().request("/plain/\(name)-response", method: method, version: version)
                XCTAssertEqual(plain.status, made.status, what)
                XCTAssertEqual(plain.reason, made.reason, what)
                XCTAssertEqual(plain.headers.first?.name, "Content-Type", what)
                XCTAssertNotNil(plain.header("Date"), what)
                XCTAssertEqual(withoutDate(plain), withoutDate(made), what)
                XCTAssertEqual(plain.body, made.body, what)
            }
        }
        let object = try get("/plain/object")
        XCTAssertEqual(object.header("Content-Type"), "application/json; charset=UTF-8")
        XCTAssertEqual(object.text, #"{"a":1}"#)
        XCTAssertEqual(try get("/plain/array").text, "[1,2]")
        let created = try get("/plain/status")
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(created.reason, "Created")
        XCTAssertEqual(try get("/plain/unknown-status").reason, "Unknown")
        XCTAssertEqual(try get("/plain/object-status").status, 202)
        XCTAssertEqual(
            try Self.server.client().request("/plain/text", version: "HTTP/1.0").header("Connection"), "close")
        let kept = try Self.server.client().request(
            "/plain/text", headers: ["Connection": "keep-alive"], version: "HTTP/1.0")
        XCTAssertEqual(kept.header("Connection"), "keep-alive")
    }

    func testJSONBodies() throws {
        var response = try get("/ret/table")
        XCTAssertEqual(response.header("Content-Type"), "application/json; charset=UTF-8")
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any]
        XCTAssertEqual(object["a"] as? Int, 1)
        XCTAssertEqual((object["list"] as? [Any])?.count, 3)
        XCTAssertEqual((object["list"] as? [Any])?[1] as? Double, 2.5)
        XCTAssertEqual((object["empty"] as? [Any])?.count, 0)
        XCTAssertTrue(object["null"] is NSNull)

        response = try get("/ret/array")
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.text, "[1,2,3]")

        response = try get("/ret/table-content-type")
        XCTAssertEqual(response.header("Content-Type"), "application/vnd.api+json")
        XCTAssertEqual(response.text, #"{"a":1}"#)
    }

    func testBinaryBodiesAndHeaderArrays() throws {
        var response = try get("/ret/binary")
        XCTAssertEqual(response.body, [0, 1, 2, 255])
        XCTAssertEqual(response.header("Content-Length"), "4")

        response = try get("/ret/multi")
        XCTAssertEqual(response.headers("X-Multi"), ["a", "b"])

        response = try get("/ret/reason")
        XCTAssertEqual(response.status, 418)
        XCTAssertEqual(response.reason, "I Am A Teapot")
    }

    func testCookieText() throws {
        let response = try get("/cookies/full")
        XCTAssertEqual(
            response.headers("Set-Cookie"),
            [
                "a=1; Path=/; Domain=example.com; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Max-Age=60; Secure; HttpOnly; SameSite=Lax; Partitioned",
                "b=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                "c=; Path=/x; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0",
            ])
    }

    func testUnsafeValuesAreRefused() throws {
        for target in ["/cookies/bad", "/cookies/crlf", "/header-crlf", "/header-name", "/redirect-crlf"] {
            let response = try get(target)
            XCTAssertEqual(response.status, 500, target)
            XCTAssertNil(response.header("X-Injected"), target)
            XCTAssertEqual(response.text, "Internal server error", target)
        }
    }

    func testRedirectStatus() throws {
        let response = try get("/redirect-301")
        XCTAssertEqual(response.status, 301)
        XCTAssertEqual(response.header("Location"), "/moved")
    }

    func testSendFileOptions() throws {
        let gz = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("files/data.json.gz")))
        var response = try get("/file/compressed")
        XCTAssertEqual(response.header("Content-Type"), "application/json")
        XCTAssertEqual(response.header("Content-Encoding"), "gzip")
        XCTAssertEqual(Data(response.body), gz)

        response = try get("/file/compressed-br")
        XCTAssertEqual(response.header("Content-Encoding"), "br")

        response = try get("/file/extension")
        XCTAssertEqual(response.header("Content-Type"), "application/json")
        XCTAssertNil(response.header("Content-Encoding"))
        XCTAssertEqual(Data(response.body), gz)

        response = try get("/file/typed")
        XCTAssertEqual(response.status, 203)
        XCTAssertEqual(response.header("Content-Type"), "text/x-custom")
        XCTAssertEqual(response.text, "plain bytes")

        XCTAssertEqual(try get("/file/unknown").header("Content-Type"), "application/octet-stream")
        XCTAssertEqual(try get("/file/types-map").header("Content-Type"), "text/x-lua")
        XCTAssertEqual(try get("/file/missing-caught").text, "caught")
    }

    func testStreamsFromThreadsAndFunctions() throws {
        var response = try get("/stream-thread")
        XCTAssertEqual(response.chunks?.map { String(decoding: $0, as: UTF8.self) }, ["t1", "t2", "t3"])
        response = try get("/stream-function")
        XCTAssertEqual(response.chunks?.map { String(decoding: $0, as: UTF8.self) }, ["f1", "f2", "f3"])
        response = try get("/sleep")
        XCTAssertEqual(response.chunks?.map { String(decoding: $0, as: UTF8.self) }, ["a", "b"])
        XCTAssertEqual(try get("/sleep-handler").text, "slept")
    }
}
