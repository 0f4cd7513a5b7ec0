import XCTest

@testable import MicrodotLua

/// examples/crud over a real socket (examples/crud/test_app.lua runs the same
/// API through the test client, in LuaSpecTests).
final class CRUDExampleTests: XCTestCase {
    func testCreateUploadDownloadDelete() throws {
        let server = try TestServer(script: TestPaths.example("crud/app.lua"))
        let client = try server.client()
        let json = ["Content-Type": "application/json"]

        let created = try client.request(
            "/notes", method: "POST", headers: json, body: Array(#"{"title":"milk","tags":["shop"]}"#.utf8))
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created.header("Location"), "/notes/1")
        XCTAssertEqual(created.header("Content-Type"), "application/json; charset=UTF-8")

        let form =
            "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX--\r\n"
        let uploaded = try client.request(
            "/notes/1/attachments", method: "POST", headers: ["Content-Type": "multipart/form-data; boundary=XX"],
            body: Array(form.utf8))
        XCTAssertEqual(uploaded.status, 201, uploaded.text)

        let downloaded = try client.request("/notes/1/attachments/a.txt")
        XCTAssertEqual(downloaded.text, "hello")
        XCTAssertEqual(downloaded.header("Content-Type"), "text/plain")

        let invalid = try client.request("/notes", method: "POST", headers: json, body: Array("{}".utf8))
        XCTAssertEqual(invalid.status, 422)
        XCTAssertEqual(invalid.text, #"{"error":"title must be a non-empty string"}"#)

        XCTAssertEqual(try client.request("/notes/1", method: "DELETE").status, 204)
        let gone = try client.request("/notes/1")
        XCTAssertEqual(gone.status, 404)
        XCTAssertEqual(gone.text, #"{"error":"not found"}"#)
        XCTAssertEqual(server.server.configuration.workers, 1, "app:run{workers = 1} is honoured with return app")
    }
}
