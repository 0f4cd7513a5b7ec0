import XCTest

@testable import MicrodotLua

/// examples/login: its test_app.lua (the in-process test client), and the
/// browser's flow over a real socket: templated form, login, session kept
/// across pages, remember-me, logout, and CSRF refusing forms posted from
/// another site (Tests/oracle/test_login_browser.py drives a real browser).
final class LoginExampleTests: XCTestCase {
    func testTheLoginExampleSpec() throws {
        let log = LogCapture()
        XCTAssertNoThrow(
            try MicrodotApp(scriptPath: TestPaths.example("login/test_app.lua")).runScript(logger: log.logger))
    }

    /// A browser's cookie jar, enough for this flow.
    private struct Jar {
        var cookies: [String: String] = [:]

        mutating func update(from response: RawResponse) {
            for header in response.headers("Set-Cookie") {
                let pair = header.split(separator: ";", maxSplits: 1)[0]
                guard let equals = pair.firstIndex(of: "=") else { continue }
                let name = String(pair[..<equals])
                if header.contains("Max-Age=0") {
                    cookies[name] = nil
                } else {
                    cookies[name] = String(pair[pair.index(after: equals)...])
                }
            }
        }

        var header: [String: String] {
            cookies.isEmpty
                ? [:] : ["Cookie": cookies.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: "; ")]
        }
    }

    func testTheBrowserFlowOverASocket() throws {
        let server = try TestServer(script: TestPaths.example("login/app.lua"))
        let client = try server.client()
        var jar = Jar()
        // What a browser sends with the app's own forms, and with a form
        // another site's page posts here (microdot.csrf reads both headers).
        let form = [
            "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin",
            "Origin": "http://127.0.0.1:\(server.port)",
        ]
        let forged = form.merging(["Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"]) { $1 }

        let first = try client.request("/")
        XCTAssertEqual(first.status, 302)
        XCTAssertEqual(first.header("Location"), "/login?next=/")
        let page = try client.request("/login?next=/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=UTF-8")
        XCTAssertTrue(page.text.contains("<form method=\"post\" action=\"/login?next=%2F\">"), page.text)

        let forgedLogin = try client.request(
            "/login?next=/", method: "POST", headers: forged, body: Array("username=ada&password=lovelace".utf8))
        XCTAssertEqual(forgedLogin.status, 403)
        XCTAssertEqual(forgedLogin.header("Content-Type"), "text/html; charset=UTF-8")
        XCTAssertTrue(forgedLogin.text.contains("<h1>Forbidden</h1>"), forgedLogin.text)
        XCTAssertTrue(forgedLogin.headers("Set-Cookie").isEmpty)

        let refused = try client.request(
            "/login?next=/", method: "POST", headers: form, body: Array("username=ada&password=x".utf8))
        XCTAssertEqual(refused.status, 401)
        XCTAssertTrue(refused.headers("Set-Cookie").isEmpty)

        let loggedIn = try client.request(
            "/login?next=/", method: "POST", headers: form,
            body: Array("username=ada&password=lovelace&remember=on".utf8))
        XCTAssertEqual(loggedIn.status, 302)
        XCTAssertEqual(loggedIn.header("Location"), "/")
        let setCookies = loggedIn.headers("Set-Cookie")
        XCTAssertEqual(setCookies.count, 2, "\(setCookies)")
        XCTAssertTrue(setCookies[0].hasPrefix("session=") && setCookies[0].hasSuffix("; Path=/; HttpOnly"))
        XCTAssertTrue(
            setCookies[1].hasPrefix("_remember=") && setCookies[1].hasSuffix("; Path=/; Max-Age=2592000; HttpOnly"))
        jar.update(from: loggedIn)

        for visit in 1...2 {
            let home = try client.request("/", headers: jar.header)
            XCTAssertEqual(home.status, 200)
            XCTAssertTrue(home.text.contains("Hello, Ada Lovelace"), home.text)
            XCTAssertTrue(home.text.contains("Visits in this session: \(visit)"), home.text)
            jar.update(from: home)
        }
        XCTAssertEqual(try client.request("/account", headers: jar.header).status, 200)

        // A logout form another site posts with the user's cookies: refused,
        // the session untouched.
        let forgedLogout = try client.request("/logout", method: "POST", headers: forged.merging(jar.header) { $1 })
        XCTAssertEqual(forgedLogout.status, 403)
        XCTAssertTrue(forgedLogout.headers("Set-Cookie").isEmpty)
        let stillIn = try client.request("/", headers: jar.header)
        XCTAssertTrue(stillIn.text.contains("Visits in this session: 3"), stillIn.text)
        jar.update(from: stillIn)

        // The browser is closed: the session cookie goes, the remember cookie stays.
        jar.cookies["session"] = nil
        let restored = try client.request("/", headers: jar.header)
        XCTAssertEqual(restored.status, 200)
        XCTAssertTrue(restored.text.contains("Visits in this session: 1"), restored.text)
        jar.update(from: restored)
        let notFresh = try client.request("/account", headers: jar.header)
        XCTAssertEqual(notFresh.status, 302)
        XCTAssertEqual(notFresh.header("Location"), "/login?next=/account")

        let out = try client.request("/logout", method: "POST", headers: form.merging(jar.header) { $1 })
        XCTAssertEqual(out.status, 302)
        jar.update(from: out)
        XCTAssertNil(jar.cookies["_remember"])
        XCTAssertEqual(try client.request("/", headers: jar.header).status, 302)

        // A forged session cookie is an empty session, not an error.
        let forgedCookie = try client.request(
            "/", headers: ["Cookie": "session=eyJhbGciOiJub25lIn0.eyJfdXNlcl9pZCI6MX0."])
        XCTAssertEqual(forgedCookie.status, 302)
    }
}
