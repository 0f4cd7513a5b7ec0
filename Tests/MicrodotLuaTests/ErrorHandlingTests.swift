import XCTest

@testable import MicrodotLua

/// Lua errors become 500s with a logged traceback, and serving goes on.
final class ErrorHandlingTests: XCTestCase {
    func testHandlerErrorIs500WithTracebackAndServingContinues() throws {
        let server = try TestServer(script: TestPaths.fixture("routes.lua"))
        let client = try server.client()
        let response = try client.request("/error")
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(response.text, "Internal server error")
        XCTAssertEqual(try client.request("/ret/text").text, "text", "same connection, next request")
        let log = server.log.text
        XCTAssertTrue(log.contains("routes.lua:"), log)
        XCTAssertTrue(log.contains("boom from the handler"), log)
        XCTAssertTrue(log.contains("stack traceback"), log)
    }

    func testJSONEncodingErrorsAre500() throws {
        let server = try TestServer(script: TestPaths.fixture("routes.lua"))
        for target in ["/json-error", "/json-nan", "/json-key"] {
            XCTAssertEqual(try server.request(target).status, 500, target)
        }
        XCTAssertTrue(server.log.text.contains("contains itself"), server.log.text)
        XCTAssertEqual(try server.request("/ret/text").status, 200)
    }

    func testErrorMidStreamTruncatesAndCloses() throws {
        let server = try TestServer(script: TestPaths.fixture("routes.lua"))
        let client = try server.client()
        XCTAssertThrowsError(try client.request("/stream-error"), "the chunked body must not end cleanly")
        XCTAssertTrue(server.log.text.contains("stream broke"), server.log.text)
        XCTAssertEqual(try server.request("/ret/text").text, "text")
    }
}
