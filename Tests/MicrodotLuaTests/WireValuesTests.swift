import XCTest

@testable import MicrodotLua

/// Routing on the raw path (an encoded slash is data inside its segment,
/// RFC 3986 section 2.2) and what the app sets reaching the wire only when
/// it fits the RFC grammar (RFC 9110 field-name/field-value, RFC 9112
/// reason-phrase, RFC 6265 cookies); a value that does not is a 500 whose
/// logged error names the app's file and line.
final class WireValuesTests: AppTestCase {
    private let routesApp = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:get("/files/<name>", function(req, name) return "name=" .. name end)
        app:get("/files/<name>/meta", function(req, name) return "meta=" .. name end)
        app:get("/repos/<owner>/<repo>", function(req, owner, repo) return owner .. "|" .. repo end)
        app:get("/n/<int:n>/<name>", function(req, n, name) return n .. "|" .. name end)
        app:get("/p/<path:rest>/end", function(req, rest) return "rest=" .. rest end)
        app:get("/re/<re:[a-z]+(%2F[a-z]+)?:word>", function(req, word) return "word=" .. word end)
        app:post("/only-post/<name>", function(req, name) return name end)
        app:get("/100%", function(req) return "percent " .. req.path end)
        app:get("/names/<name>", function(req, name) return name .. "|" .. req.path end)
        local sub = microdot.Microdot()
        sub:get("/<name>", function(req, name) return "sub=" .. name end)
        app:mount(sub, "/mnt")
        return app
        """

    func testAnEncodedSlashStaysInsideItsSegmentAndTheRouteGetsItDecoded() async throws {
        try await withApp(routesApp) { client in
            let cases: [(String, Int, String)] = [
                ("/files/report%20v2.txt", 200, "name=report v2.txt"),
                ("/files/a%2Fb.txt", 200, "name=a/b.txt"),
                ("/files/a%2fb.txt", 200, "name=a/b.txt"),
                ("/files/a%2Fmeta", 200, "name=a/meta"),
                ("/files/a/meta", 200, "meta=a"),
                ("/repos/org%2Fteam/app", 200, "org/team|app"),
                ("/n/7/x%2Fy", 200, "7|x/y"),
                ("/p/a/b%2Fc/end", 200, "rest=a/b/c"),
                ("/re/a%2Fb", 200, "word=a/b"),
                ("/files/a%252Fb", 200, "name=a%2Fb"),
                ("/files/50%25", 200, "name=50%"),
                ("/100%25", 200, "percent /100%"),
                ("/names/J%C3%BCrgen", 200, "Jürgen|/names/Jürgen"),
                ("/names/a%2Fb", 200, "a/b|/names/a/b"),
                ("/mnt/x%2Fy", 200, "sub=x/y"),
                ("/files/a%2Fb/c%2Fd", 404, "Not found"),
                ("/re/a/b", 404, "Not found"),
            ]
            for (target, status, body) in cases {
                let response = try await client.get(target)
                XCTAssertEqual(response.status, status, target)
                XCTAssertEqual(response.text, body, target)
            }
            let wrongMethod = try await client.get("/only-post/a%2Fb")
            XCTAssertEqual(wrongMethod.status, 405)
            XCTAssertEqual(wrongMethod.header("Allow"), "POST, OPTIONS")
            let options = try await client.request("/files/a%2Fmeta", method: "OPTIONS")
            XCTAssertEqual(options.header("Allow"), "GET, HEAD, OPTIONS")
        }
    }

    private let cookiesApp = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:get("/pref", function(req)
          local res = microdot.Response("ok")
          local a = req.args
          res:set_cookie(a.name or "pref", a.value or "1", {path = a.path, domain = a.domain,
            same_site = a.same_site, expires = a.expires, max_age = a.max_age})
          return res
        end)
        app:get("/delete", function(req)
          local res = microdot.Response("ok")
          res:delete_cookie("pref", {path = req.args.path})
          return res
        end)
        return app
        """

    func testEveryCookiePartIsCheckedAgainstRFC6265AndTheErrorNamesTheCall() async throws {
        let bad: [(String, String)] = [
            ("name", "x=1; Domain=evil.example; Path=/; y"), ("name", "a b"), ("name", ""), ("name", "a\u{1}"),
            ("value", "1; Domain=evil.example"), ("value", "a b"), ("value", "a,b"), ("value", "a\\b"),
            ("value", "\"a"), ("value", "a\u{7F}"),
            ("path", "/; Domain=evil.example; SameSite=None"), ("path", "/\u{1}"), ("path", "/é"),
            ("domain", "example.com; Secure; SameSite=None"), ("domain", "exa mple.com"), ("domain", "a/b"),
            ("same_site", "Lax; Domain=evil.example"), ("same_site", "Whatever"),
            ("expires", "x; Domain=evil.example"), ("expires", "Thu, 01 Jan 2099 00:00:00 GMT; Secure"),
            ("max_age", "1; Domain=evil.example"), ("max_age", "1.5"), ("max_age", "ten"),
        ]
        try await withApp(cookiesApp) { client in
            for (argument, value) in bad {
                let query = argument + "=" + value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let response = try await client.get("/pref?" + query)
                XCTAssertEqual(response.status, 500, "\(argument)=\(value)")
                XCTAssertEqual(response.headers("Set-Cookie"), [], "\(argument)=\(value)")
            }
            XCTAssertTrue(client.log.text.contains("app.lua:6: invalid cookie"), client.log.text)
            let deleted = try await client.get("/delete?path=%2F%3B%20Domain%3Devil.example")
            XCTAssertEqual(deleted.status, 500)
            XCTAssertTrue(client.log.text.contains("app.lua:12: invalid cookie"), client.log.text)

            let good: [(String, String)] = [
                ("path=/a%20b&same_site=lax&max_age=-1", "pref=1; Path=/a b; Max-Age=-1; SameSite=lax"),
                ("value=%22quoted%22&domain=.example.com", "pref=\"quoted\"; Domain=.example.com"),
                (
                    "name=__Host-x&value=a!%23%24%25&expires=Thu,%2001%20Jan%202099%2000:00:00%20GMT",
                    "__Host-x=a!#$%; Expires=Thu, 01 Jan 2099 00:00:00 GMT"
                ),
                ("value=", "pref="),
            ]
            for (query, line) in good {
                let response = try await client.get("/pref?" + query)
                XCTAssertEqual(response.status, 200, query)
                XCTAssertEqual(response.headers("Set-Cookie"), [line], query)
            }
        }
    }

    /// Numbers from the client reach values the app sets: none may stop the
    /// process (a Swift conversion trap), each is a 500 naming the line.
    func testNumbersOutOfRangeAreRefusedNotFatal() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            local special = {nan = 0/0, inf = math.huge, ["-inf"] = -math.huge}
            local function number(text) return special[text] or tonumber(text) end
            app:get("/expires", function(req)
              local res = microdot.Response("x")
              res:set_cookie("a", "b", {expires = number(req.args.t)})
              return res
            end)
            app:get("/keys", function(req) return #microdot.shared:keys(number(req.args.n)) .. "" end)
            app:get("/header", function(req) return "x", 200, {["X-N"] = number(req.args.n)} end)
            app:get("/status", function(req) return "x", tonumber(req.args.s) end)
            app:get("/abort", function(req) microdot.abort(tonumber(req.args.s)) end)
            app:get("/ok", function(req) return "ok" end)
            return app
            """
        ) { client in
            for t in ["1e300", "-1e300", "nan", "inf", "9223372036854775807", "67767976233532800"] {
                let response = try await client.get("/expires?t=\(t)")
                XCTAssertEqual(response.status, 500, t)
                XCTAssertTrue(client.log.text.contains("app.lua:7: invalid cookie \"a\": the expiry time"), t)
                let next = try await client.get("/ok")
                XCTAssertEqual(next.text, "ok", "still serving after \(t)")
            }
            let year9999 = try await client.get("/expires?t=253402300799")
            XCTAssertEqual(year9999.header("Set-Cookie"), "a=b; Expires=Fri, 31 Dec 9999 23:59:59 GMT")
            let allKeys = try await client.get("/keys?n=1e300")
            XCTAssertEqual(allKeys.status, 200, "more than the store holds: all")
            let negative = try await client.get("/keys?n=-1")
            XCTAssertEqual(negative.status, 500)
            for n in ["nan", "inf", "-inf"] {
                let response = try await client.get("/header?n=\(n)")
                XCTAssertEqual(response.status, 500, n)
                XCTAssertTrue(client.log.text.contains("is not a finite number"), client.log.text)
            }
            let fraction = try await client.get("/header?n=1.5")
            XCTAssertEqual(fraction.header("X-N"), "1.5")
            // RFC 9110 section 15.2: a 1xx is interim, never the response.
            for s in ["100", "101", "103", "199"] {
                let response = try await client.get("/status?s=\(s)")
                XCTAssertEqual(response.status, 500, s)
                XCTAssertTrue(client.log.text.contains("invalid status code: \(s) (1xx statuses are interim"), s)
                let aborted = try await client.get("/abort?s=\(s)")
                XCTAssertEqual(aborted.status, 500, s)
            }
            let fine = try await client.get("/status?s=200")
            XCTAssertEqual(fine.status, 200)
        }
    }

    func testHeadersAndReasonsThatAreNotRFCGrammarAre500sNamingTheCall() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            local R = microdot.Response
            app:get("/ctl", function(req) local res = R("x", 200, {["X-A"] = "a\\1b"}); return res end)
            app:get("/del", function(req) local res = R("x", 200, {["X-A"] = {"ok", "a\\127"}}); return res end)
            app:get("/lead", function(req) local res = R.new("x", 200, {["X-A"] = " a"}); return res end)
            app:get("/trail", function(req) local res = R("x", 200, {["X-A"] = "a\\t"}); return res end)
            app:get("/name", function(req) local res = R("x", 200, {["X:A"] = "a"}); return res end)
            app:get("/reason", function(req) local res = R("x", 200, nil, "OK\\rX-Injected: 1"); return res end)
            app:get("/redirect", function(req) local res = microdot.redirect("/a\\0b"); return res end)
            app:get("/send", function(req)
              local res = microdot.send_file("files/hello.txt", {content_type = "text/plain\\1"})
              return res
            end)
            app:get("/tail", function(req) return R("x", 200, {["X-A"] = "a\\1b"}) end)
            app:get("/later", function(req)
              local res = microdot.Response("x")
              res.headers["X-Later"] = "a\\31b"
              return res
            end)
            app:get("/later-reason", function(req)
              local res = microdot.Response("x")
              res.reason = "Fine\\0"
              return res
            end)
            app:get("/fine", function(req)
              return microdot.Response("x", 299, {["X-Tab"] = "a\\tb", ["X-Obs"] = "caf\\195\\169"}, "Fine\\tby me")
            end)
            return app
            """
        ) { client in
            let lines = ["/ctl": 4, "/del": 5, "/lead": 6, "/trail": 7, "/name": 8, "/reason": 9, "/redirect": 10]
            for (target, line) in lines.sorted(by: { $0.value < $1.value }) {
                let response = try await client.get(target)
                XCTAssertEqual(response.status, 500, target)
                XCTAssertNil(response.header("X-A"), target)
                XCTAssertNil(response.header("X-Injected"), target)
                XCTAssertTrue(client.log.text.contains("app.lua:\(line): invalid"), "\(target): \(client.log.text)")
            }
            let send = try await client.get("/send")
            XCTAssertEqual(send.status, 500)
            XCTAssertTrue(
                client.log.text.contains("app.lua:12: invalid value for header Content-Type"), client.log.text)
            // `return R(...)` is a tail call: Lua keeps no line of the
            // handler then, but the value is refused all the same.
            let tail = try await client.get("/tail")
            XCTAssertEqual(tail.status, 500)
            XCTAssertNil(tail.header("X-A"))
            XCTAssertTrue(client.log.text.contains("handler returned with a tail call"), client.log.text)
            XCTAssertFalse(client.log.text.contains("dispatch.lua:79: invalid"), client.log.text)
            let later = try await client.get("/later")
            XCTAssertEqual(later.status, 500)
            XCTAssertNil(later.header("X-Later"))
            XCTAssertTrue(client.log.text.contains("header X-Later contains a control character"), client.log.text)
            let laterReason = try await client.get("/later-reason")
            XCTAssertEqual(laterReason.status, 500)
            XCTAssertTrue(client.log.text.contains("the reason phrase contains a control character"), client.log.text)
            let fine = try await client.get("/fine")
            XCTAssertEqual(fine.status, 299)
            XCTAssertEqual(fine.reason, "Fine\tby me")
            XCTAssertEqual(fine.header("X-Tab"), "a\tb")
        }
    }
}
