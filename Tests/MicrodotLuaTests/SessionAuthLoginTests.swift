import XCTest

@testable import MicrodotLua

/// README "Sessions", "Auth" and "Login": each section's example, taken from
/// the README itself, runs as written, in process and over a socket. (The
/// oracle suite compares these modules with Python Microdot; Tests/LuaSpecs/
/// session_spec.lua checks their parts.)
final class SessionAuthLoginTests: AppTestCase {
    /// The first Lua block of README section `title`.
    private func readmeExample(_ title: String) throws -> String {
        let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        let section = try XCTUnwrap(readme.range(of: "\n## \(title)\n"), "README has no section \(title)")
        let rest = readme[section.upperBound...]
        let start = try XCTUnwrap(rest.range(of: "```lua\n"))
        let end = try XCTUnwrap(rest[start.upperBound...].range(of: "```\n"))
        return String(rest[start.upperBound..<end.lowerBound])
    }

    private func cookie(_ response: RawResponse, _ name: String) -> String? {
        for header in response.headers("Set-Cookie") where header.hasPrefix(name + "=") {
            return String(header.dropFirst(name.count + 1).prefix { $0 != ";" })
        }
        return nil
    }

    func testTheSessionsExample() async throws {
        try await withApp(try readmeExample("Sessions")) { app in
            let first = try await app.get("/")
            XCTAssertEqual(first.text, "visits: 1")
            let token = try XCTUnwrap(cookie(first, "session"))
            XCTAssertEqual(first.header("Set-Cookie"), "session=\(token); Path=/; HttpOnly")
            XCTAssertEqual(token.split(separator: ".").count, 3)
            let second = try await app.get("/", headers: ["Cookie": "session=\(token)"])
            XCTAssertEqual(second.text, "visits: 2")
            let forged = try await app.get("/", headers: ["Cookie": "session=\(token.dropLast(2))xx"])
            XCTAssertEqual(forged.text, "visits: 1", "a bad signature is an empty session")
        }
    }

    func testTheAuthExample() async throws {
        try await withApp(try readmeExample("Auth")) { app in
            let refused = try await app.get("/admin")
            XCTAssertEqual(refused.status, 401)
            XCTAssertEqual(refused.header("WWW-Authenticate"), #"Basic realm="Please login", charset="UTF-8""#)
            let admin = try await app.get("/admin", headers: ["Authorization": "Basic YWRtaW46c2VjcmV0"])
            XCTAssertEqual(admin.text, "hi admin")
            let me = try await app.get("/api/me", headers: ["Authorization": "Bearer k-123"])
            XCTAssertEqual(me.text, #"{"user":"ada"}"#)
            let noToken = try await app.get("/api/me", headers: ["Authorization": "Bearer nope"])
            XCTAssertEqual(noToken.status, 401)
            let anonymous = try await app.get("/api/hello")
            XCTAssertEqual(anonymous.text, "hello stranger")
            let known = try await app.get("/api/hello", headers: ["Authorization": "bearer k-123"])
            XCTAssertEqual(known.text, "hello ada")
        }
    }

    func testTheLoginExample() async throws {
        try await withApp(try readmeExample("Login")) { app in
            let away = try await app.get("/settings?tab=a+b%21")
            XCTAssertEqual(away.status, 302)
            XCTAssertEqual(away.header("Location"), "/login?next=/settings%3Ftab%3Da%2Bb%2521")
            let form = ["Content-Type": "application/x-www-form-urlencoded"]
            let wrong = try await app.post("/login", headers: form, body: "username=ada&password=x")
            XCTAssertEqual(wrong.status, 401)
            let good = try await app.post(
                "/login?next=/settings", headers: form, body: "username=ada&password=lovelace&remember=on")
            XCTAssertEqual(good.status, 302)
            XCTAssertEqual(good.header("Location"), "/settings")
            let session = try XCTUnwrap(cookie(good, "session"))
            let remember = try XCTUnwrap(cookie(good, "_remember"))
            let settings = try await app.get("/settings", headers: ["Cookie": "session=\(session)"])
            XCTAssertEqual(settings.text, "settings of ada")
            let restored = try await app.get("/", headers: ["Cookie": "_remember=\(remember)"])
            XCTAssertEqual(restored.text, "hi ada")
            let notFresh = try await app.get(
                "/settings", headers: ["Cookie": "session=\(try XCTUnwrap(cookie(restored, "session")))"])
            XCTAssertEqual(notFresh.status, 302)
            let out = try await app.post("/logout", headers: ["Cookie": "session=\(session)"], body: "")
            XCTAssertEqual(out.header("Location"), "/login")
            let after = try await app.get("/", headers: ["Cookie": "session=\(try XCTUnwrap(cookie(out, "session")))"])
            XCTAssertEqual(after.status, 302)
        }
    }

    func testASessionCookieOver4096BytesIsAnErrorAtSave() async throws {
        let lua = """
            local microdot = require("microdot")
            local session = require("microdot.session")
            local app = microdot.Microdot()
            session.Session(app, {secret_key = "k"})
            app:get("/", session.with_session(function(req, s)
              s.big = string.rep("x", tonumber(req.args.n))
              s:save()
              return "saved"
            end))
            return app
            """
        try await withApp(lua) { app in
            let small = try await app.get("/?n=2000")
            XCTAssertEqual(small.text, "saved")
            XCTAssertEqual(small.headers("Set-Cookie").count, 1)
            let big = try await app.get("/?n=4000")
            XCTAssertEqual(big.status, 500)
            XCTAssertTrue(big.headers("Set-Cookie").isEmpty)
            XCTAssertTrue(app.log.text.contains("app.lua:7: the session cookie would be"), app.log.text)
        }
    }

    func testNoSecretKeyIsA500SayingSo() async throws {
        let lua = """
            local microdot = require("microdot")
            local session = require("microdot.session")
            local app = microdot.Microdot()
            session.Session(app)
            app:get("/", session.with_session(function(req, s) return "no" end))
            app:get("/ok", function(req) return "still serving" end)
            return app
            """
        try await withApp(lua) { app in
            let response = try await app.get("/")
            XCTAssertEqual(response.status, 500)
            XCTAssertTrue(app.log.text.contains("The session secret key is not configured"), app.log.text)
            let next = try await app.get("/ok")
            XCTAssertEqual(next.text, "still serving")
        }
    }
}
