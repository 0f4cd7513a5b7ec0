import XCTest

@testable import MicrodotLua

/// examples/cors, examples/events and examples/templates: their test
/// scripts through the in-process test client, and the templates example
/// over a real socket (its pages stream, its form is CSRF-protected).
final class ExtensionExamplesTests: XCTestCase {
    func testTheExampleScriptsPass() throws {
        for example in ["cors", "events", "templates"] {
            let log = LogCapture()
            XCTAssertNoThrow(
                try MicrodotApp(scriptPath: TestPaths.example("\(example)/test_app.lua")).runScript(logger: log.logger),
                example)
        }
    }

    func testTheTemplatesExampleOverASocket() throws {
        let server = try TestServer(script: TestPaths.example("templates/app.lua"))
        let client = try server.client()
        let form = ["Content-Type": "application/x-www-form-urlencoded"]

        let refused = try client.request(
            "/sign", method: "POST", headers: form.merging(["Sec-Fetch-Site": "cross-site"]) { $1 },
            body: Array("name=Mallory".utf8))
        XCTAssertEqual(refused.status, 403)
        let signed = try client.request(
            "/sign", method: "POST", headers: form.merging(["Sec-Fetch-Site": "same-origin"]) { $1 },
            body: Array("name=Ada+%26+co".utf8))
        XCTAssertEqual(signed.status, 302)
        let page = try client.request("/")
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=UTF-8")
        XCTAssertTrue(page.text.contains("<li>Ada &amp; co <small>"), page.text)
        XCTAssertFalse(page.text.contains("Mallory"))
        let streamed = try client.request("/all")
        XCTAssertEqual(streamed.header("Transfer-Encoding"), "chunked")
        XCTAssertTrue(streamed.text.contains("<h1>Everyone</h1>"), streamed.text)
    }
}
