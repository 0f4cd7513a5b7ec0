import XCTest

@testable import MicrodotLua

#if canImport(Glibc)
    import Glibc
#endif

/// examples/notes-pg over a real socket, on a private PostgreSQL with a
/// private Redis as its cache, sharing notes to a local webhook (itself a
/// microdot-lua server).
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

    func testTheNotesAPIOnPostgresWithARedisCacheAndAWebhook() throws {
        let postgres = try PrivatePostgres()
        defer { postgres.stop() }
        let redis = try RedisServer()
        setenv("REDIS_URL", redis.url, 1)
        let webhook = try TestServer(source: Self.webhookSource)
        setenv("DATABASE_URL", postgres.url, 1)
        setenv("WEBHOOK_URL", "http://127.0.0.1:\(webhook.port)/hook", 1)
        defer {
            unsetenv("DATABASE_URL")
            unsetenv("WEBHOOK_URL")
            unsetenv("REDIS_URL")
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

        // The first read fills the cache, the next one is answered from it.
        let miss = try app.request("/notes/1")
        XCTAssertEqual(miss.headers("X-Cache"), ["miss"])
        XCTAssertTrue(try redis.cli(["GET", "note:1"]).contains(#""title":"milk""#))
        let hit = try app.request("/notes/1")
        XCTAssertEqual(hit.headers("X-Cache"), ["hit"])
        XCTAssertEqual(hit.headers("Content-Type"), ["application/json"])
        XCTAssertEqual(hit.body, miss.body)

        _ = try app.request(
            "/notes", method: "POST", headers: jsonHeaders, body: Array(#"{"title": "call mum"}"#.utf8))
        XCTAssertEqual(try app.request("/notes/2").headers("X-Cache"), ["miss"])
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
        // Sharing removed the cached copy: the read sees the new status.
        let afterShare = try app.request("/notes/1")
        XCTAssertEqual(afterShare.headers("X-Cache"), ["miss"])
        XCTAssertEqual((json(afterShare) as? [String: Any])?["shared_status"] as? Int, 202)
        XCTAssertEqual(try app.request("/notes/9/share", method: "POST").status, 404)

        XCTAssertEqual(try app.request("/notes/2", method: "DELETE").status, 204)
        XCTAssertEqual(try app.request("/notes/2").status, 404)
        XCTAssertEqual(try app.request("/notes/2", method: "DELETE").status, 404)

        // Without Redis the notes come from the database (the failure logged).
        redis.stop()
        let uncached = try app.request("/notes/1")
        XCTAssertEqual(uncached.status, 200)
        XCTAssertEqual(uncached.headers("X-Cache"), ["miss"])
        XCTAssertTrue(app.log.text.contains("cache: redis 127.0.0.1:\(redis.port)"), app.log.text)

        postgres.stop()
        let down = try app.request("/notes/1")
        XCTAssertEqual(down.status, 503)
        XCTAssertEqual(down.text, #"{"error":"database unavailable"}"#)
        XCTAssertTrue(app.log.text.contains("postgres 127.0.0.1:\(postgres.port)/app: 08"), app.log.text)
    }
}
