import XCTest

@testable import MicrodotLua

#if canImport(Glibc)
    import Glibc
#endif

/// examples/notes-pg over a real socket, on a private PostgreSQL, sharing
/// notes to a local webhook (itself a microdot-lua server).
final class NotesPgExampleTests: XCTestCase {
    private static let webhookSource = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:post("/hook", function(req)
          microdot.shared:set("last", req.body)
          return "thanks", 202
        end)
        app:get("/last", function() return microdot.shared:get("last") or "" end)
        return app
        """

    private func json(_ response: RawResponse) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(response.body))
    }

    func testTheNotesAPIOnPostgresWithAWebhook() throws {
        let postgres = try PrivatePostgres()
        defer { postgres.stop() }
        let webhook = try TestServer(source: Self.webhookSource)
        setenv("DATABASE_URL", postgres.url, 1)
        setenv("WEBHOOK_URL", "http://127.0.0.1:\(webhook.port)/hook", 1)
        defer {
            unsetenv("DATABASE_URL")
            unsetenv("WEBHOOK_URL")
        }
        let app = try TestServer(script: TestPaths.example("notes-pg/app.lua"))
        let jsonHeaders = ["Content-Type": "application/json"]

        let created = try app.request(
            "/notes", method: "POST", headers: jsonHeaders,
            body: Array(#"{"title": "milk", "tags": ["shopping", "today"], "meta": {"by": "ann"}}"#.utf8))
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created.headers("Location"), ["/notes/1"])
        let note = try XCTUnwrap(json(created) as? [String: Any])
        XCTAssertEqual(note["title"] as? String, "milk")
        XCTAssertEqual(note["tags"] as? [String], ["shopping", "today"])
        XCTAssertEqual((note["meta"] as? [String: Any])?["by"] as? String, "ann")
        XCTAssertTrue((note["created_at"] as? String)?.hasSuffix("Z") == true, "\(note)")
        XCTAssertTrue(note["shared_status"] is NSNull, "NULL is JSON null")

        _ = try app.request(
            "/notes", method: "POST", headers: jsonHeaders, body: Array(#"{"title": "call mum"}"#.utf8))
        XCTAssertEqual((json(try app.request("/notes")) as? [Any])?.count, 2)
        XCTAssertEqual(
            (json(try app.request("/notes?tag=today")) as? [[String: Any]])?.first?["title"] as? String, "milk")
        XCTAssertEqual(try app.request("/notes?tag=none").text, "[]")
        XCTAssertEqual(
            try app.request("/notes", method: "POST", headers: jsonHeaders, body: Array("{}".utf8)).status, 422)

        let shared = try app.request("/notes/1/share", method: "POST")
        let answer = try XCTUnwrap(json(shared) as? [String: Any], shared.text)
        XCTAssertEqual(answer["id"] as? Int, 1)
        XCTAssertEqual(answer["webhook_status"] as? Int, 202)
        let posted = try XCTUnwrap(json(try webhook.request("/last")) as? [String: Any])
        XCTAssertEqual(posted["title"] as? String, "milk")
        XCTAssertEqual((json(try app.request("/notes/1")) as? [String: Any])?["shared_status"] as? Int, 202)
        XCTAssertEqual(try app.request("/notes/9/share", method: "POST").status, 404)

        XCTAssertEqual(try app.request("/notes/2", method: "DELETE").status, 204)
        XCTAssertEqual(try app.request("/notes/2").status, 404)
        XCTAssertEqual(try app.request("/notes/2", method: "DELETE").status, 404)

        postgres.stop()
        let down = try app.request("/notes/1")
        XCTAssertEqual(down.status, 503)
        XCTAssertEqual(down.text, #"{"error":"database unavailable"}"#)
        XCTAssertTrue(app.log.text.contains("postgres 127.0.0.1:\(postgres.port)/app: 08"), app.log.text)
    }
}
