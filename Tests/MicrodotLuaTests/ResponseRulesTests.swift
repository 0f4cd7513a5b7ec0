import XCTest

@testable import MicrodotLua

/// README "Responses: what a handler returns" and its parts: return values,
/// Response objects, cookies, redirects, files and streams, in process and
/// over a socket.
final class ResponseRulesTests: AppTestCase {
    func testEachShapeOfReturnValueGivesItsStatusHeadersAndBody() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local Response = microdot.Response
            local app = microdot.Microdot()
            app:get("/status-headers", function(req)
              return "text", 202, {["X-One"] = "1", ["Content-Type"] = "text/html"}
            end)
            app:get("/headers", function(req) return "text", {["X-Two"] = 2} end)
            app:get("/status-only-headers", function(req) return 201, {["X-Three"] = "3"} end)
            app:get("/nil", function(req) return nil end)
            app:get("/nothing", function(req) end)
            app:get("/204", function(req) return 204 end)
            app:get("/response", function(req) return Response("made", 203, {["X-Made"] = "yes"}) end)
            app:get("/empty-response", function(req) return Response() end)
            return app
            """
        ) { client in
            var response = try await client.get("/status-headers")
            XCTAssertEqual(response.status, 202)
            XCTAssertEqual(response.header("X-One"), "1")
            XCTAssertEqual(response.header("Content-Type"), "text/html")

            response = try await client.get("/headers")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.header("X-Two"), "2")
            XCTAssertEqual(response.text, "text")

            response = try await client.get("/status-only-headers")
            XCTAssertEqual(response.status, 201)
            XCTAssertEqual(response.header("X-Three"), "3")
            XCTAssertEqual(response.header("Content-Length"), "0")
            XCTAssertEqual(response.body, [])

            for target in ["/nil", "/nothing", "/204"] {
                response = try await client.get(target)
                XCTAssertEqual(response.status, 204, target)
                XCTAssertEqual(response.body, [], target)
            }

            response = try await client.get("/response")
            XCTAssertEqual(response.status, 203)
            XCTAssertEqual(response.header("X-Made"), "yes")
            XCTAssertEqual(response.text, "made")

            response = try await client.get("/empty-response")
            XCTAssertEqual(response.status, 200, "Response() with no arguments is an empty 200, as Microdot")
            XCTAssertEqual(response.header("Content-Length"), "0")
        }
    }

    /// Each plain return next to the Response object it stands for: a plain
    /// string or table is written under a prebuilt head, and must be the
    /// same response byte for byte.
    private let plainApp = """
        local microdot = require("microdot")
        local Response, json = microdot.Response, microdot.json
        local app = microdot.Microdot()
        local pairs_ = {
          text = {function() return "text" end, function() return Response("text") end},
          object = {function() return {a = 1} end, function() return Response({a = 1}) end},
          array = {function() return json.array({1, 2}) end, function() return Response(json.array({1, 2})) end},
          empty = {function() return "" end, function() return Response("") end},
          status = {function() return "made", 201 end, function() return Response("made", 201) end},
          ["object-status"] = {function() return {a = 1}, 202.0 end, function() return Response({a = 1}, 202) end},
          ["unknown-status"] = {function() return "odd", 299 end, function() return Response("odd", 299) end},
          ["not-found"] = {function() return "gone", 404 end, function() return Response("gone", 404) end},
        }
        for name, handlers in pairs(pairs_) do
          app:get("/plain/" .. name, handlers[1])
          app:get("/plain/" .. name .. "-response", handlers[2])
        end
        return app
        """
    private let plainNames = [
        "text", "object", "array", "empty", "status", "object-status", "unknown-status", "not-found",
    ]

    private func withoutDate(_ response: RawResponse) -> [String] {
        response.headers.filter { $0.name != "Date" }.map { "\($0.name): \($0.value)" }
    }

    func testAPlainReturnAnswersAsItsResponseObjectDoes() async throws {
        try await withApp(plainApp) { client in
            for name in plainNames {
                for method in ["GET", "HEAD"] {
                    let what = "\(name) \(method)"
                    let plain = try await client.request("/plain/\(name)", method: method)
                    let made = try await client.request("/plain/\(name)-response", method: method)
                    XCTAssertEqual(plain.status, made.status, what)
                    XCTAssertEqual(plain.reason, made.reason, what)
                    XCTAssertEqual(plain.headers.first?.name, "Content-Type", what)
                    XCTAssertNotNil(plain.header("Date"), what)
                    XCTAssertEqual(withoutDate(plain), withoutDate(made), what)
                    XCTAssertEqual(plain.body, made.body, what)
                }
            }
            let object = try await client.get("/plain/object")
            XCTAssertEqual(object.header("Content-Type"), "application/json; charset=UTF-8")
            XCTAssertEqual(object.text, #"{"a":1}"#)
            let array = try await client.get("/plain/array")
            XCTAssertEqual(array.text, "[1,2]")
            let created = try await client.get("/plain/status")
            XCTAssertEqual(created.status, 201)
            XCTAssertEqual(created.reason, "Created")
            let unknown = try await client.get("/plain/unknown-status")
            XCTAssertEqual(unknown.reason, "Unknown")
            let objectStatus = try await client.get("/plain/object-status")
            XCTAssertEqual(objectStatus.status, 202)
        }
    }

    func testAPlainReturnToAnHTTP10ClientAnswersAsItsResponseObjectDoes() async throws {
        try await withApp(plainApp, modes: [.live]) { app in
            for name in plainNames {
                let plain = try app.connection().request("/plain/\(name)", version: "HTTP/1.0")
                let made = try app.connection().request("/plain/\(name)-response", version: "HTTP/1.0")
                XCTAssertEqual(plain.status, made.status, name)
                XCTAssertEqual(plain.reason, made.reason, name)
                XCTAssertEqual(plain.headers.first?.name, "Content-Type", name)
                XCTAssertNotNil(plain.header("Date"), name)
                XCTAssertEqual(withoutDate(plain), withoutDate(made), name)
                XCTAssertEqual(plain.body, made.body, name)
            }
            XCTAssertEqual(
                try app.connection().request("/plain/text", version: "HTTP/1.0").header("Connection"), "close")
            let kept = try app.connection().request(
                "/plain/text", headers: ["Connection": "keep-alive"], version: "HTTP/1.0")
            XCTAssertEqual(kept.header("Connection"), "keep-alive")
        }
    }

    func testTablesAreJSONWithAContentTypeThatCanBeReplaced() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local json = microdot.json
            local app = microdot.Microdot()
            app:get("/table", function(req)
              return {a = 1, list = {1, 2.5, "x"}, empty = json.array(), null = json.null}
            end)
            app:get("/array", function(req) return {1, 2, 3}, 201 end)
            app:get("/typed", function(req) return {a = 1}, {["Content-Type"] = "application/vnd.api+json"} end)
            return app
            """
        ) { client in
            var response = try await client.get("/table")
            XCTAssertEqual(response.header("Content-Type"), "application/json; charset=UTF-8")
            let object = jsonObject(response)
            XCTAssertEqual(object["a"] as? Int, 1)
            XCTAssertEqual((object["list"] as? [Any])?.count, 3)
            XCTAssertEqual((object["list"] as? [Any])?[1] as? Double, 2.5)
            XCTAssertEqual((object["empty"] as? [Any])?.count, 0)
            XCTAssertTrue(object["null"] is NSNull)

            response = try await client.get("/array")
            XCTAssertEqual(response.status, 201)
            XCTAssertEqual(response.text, "[1,2,3]")

            response = try await client.get("/typed")
            XCTAssertEqual(response.header("Content-Type"), "application/vnd.api+json")
            XCTAssertEqual(response.text, #"{"a":1}"#)
        }
    }

    func testBinaryBodiesHeaderArraysAndCustomReasonsGoOutAsGiven() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            app:get("/binary", function(req) return "\\0\\1\\2\\255", {["Content-Type"] = "application/octet-stream"} end)
            app:get("/multi", function(req) return "multi", {["X-Multi"] = {"a", "b"}} end)
            app:get("/reason", function(req) return microdot.Response("teapot", 418, nil, "I Am A Teapot") end)
            return app
            """
        ) { client in
            var response = try await client.get("/binary")
            XCTAssertEqual(response.body, [0, 1, 2, 255])
            XCTAssertEqual(response.header("Content-Length"), "4")

            response = try await client.get("/multi")
            XCTAssertEqual(response.headers("X-Multi"), ["a", "b"])

            response = try await client.get("/reason")
            XCTAssertEqual(response.status, 418)
            XCTAssertEqual(response.reason, "I Am A Teapot")
        }
    }

    func testSetCookieLinesCarryEveryOptionAndDeleteCookieExpiresIt() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            app:get("/", function(req)
              local res = microdot.Response("cookies")
              res:set_cookie("a", "1", {path = "/", domain = "example.com", expires = "Thu, 01 Jan 2099 00:00:00 GMT",
                max_age = 60, secure = true, http_only = true, same_site = "Lax", partitioned = true})
              res:set_cookie("b", "2", {expires = 0})
              res:delete_cookie("c", {path = "/x"})
              return res
            end)
            return app
            """
        ) { client in
            let response = try await client.get("/")
            XCTAssertEqual(
                response.headers("Set-Cookie"),
                [
                    "a=1; Path=/; Domain=example.com; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Max-Age=60; Secure; HttpOnly; SameSite=Lax; Partitioned",
                    "b=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                    "c=; Path=/x; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0",
                ])
        }
    }

    func testUnsafeCookiesHeadersAndRedirectsAreA500AndNeverSent() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            app:get("/cookie-value", function(req)
              local res = microdot.Response("x")
              res:set_cookie("a", "1;2")
              return res
            end)
            app:get("/cookie-crlf", function(req)
              local res = microdot.Response("x")
              res:set_cookie("a", "1", {path = "/\\r\\nX-Injected: 1"})
              return res
            end)
            app:get("/header-crlf", function(req) return "x", {["X-Bad"] = "a\\r\\nX-Injected: 1"} end)
            app:get("/header-name", function(req) return "x", {["Bad Name"] = "a"} end)
            app:get("/redirect-crlf", function(req) return microdot.redirect("/a\\r\\nX-Injected: 1") end)
            return app
            """
        ) { client in
            for target in ["/cookie-value", "/cookie-crlf", "/header-crlf", "/header-name", "/redirect-crlf"] {
                let response = try await client.get(target)
                XCTAssertEqual(response.status, 500, target)
                XCTAssertNil(response.header("X-Injected"), target)
                XCTAssertEqual(response.text, "Internal server error", target)
            }
        }
    }

    func testARedirectTakesTheStatusItIsGiven() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            app:get("/", function(req) return microdot.redirect("/moved", 301) end)
            return app
            """
        ) { client in
            let response = try await client.get("/")
            XCTAssertEqual(response.status, 301)
            XCTAssertEqual(response.header("Location"), "/moved")
        }
    }

    /// Files under Fixtures/files: data.json.gz and plain.
    func testSendFileOptionsSetTheTypeEncodingAndStatus() async throws {
        let gz = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("files/data.json.gz")))
        try await withApp(
            """
            local microdot = require("microdot")
            local send_file = microdot.send_file
            local app = microdot.Microdot()
            app:get("/compressed", function(req) return send_file("files/data.json.gz", {compressed = true}) end)
            app:get("/compressed-br", function(req) return send_file("files/data.json.gz", {compressed = "br"}) end)
            app:get("/extension", function(req) return send_file("files/data.json", {file_extension = ".gz"}) end)
            app:get("/typed", function(req)
              return send_file("files/plain", {content_type = "text/x-custom", status_code = 203})
            end)
            app:get("/unknown", function(req) return send_file("files/plain") end)
            app:get("/types-map", function(req)
              microdot.Response.types_map.lua = "text/x-lua"
              return send_file("modules/helper.lua")
            end)
            app:get("/missing-caught", function(req)
              local ok = pcall(send_file, "files/nope")
              return ok and "found?" or "caught", 404
            end)
            return app
            """
        ) { client in
            var response = try await client.get("/compressed")
            XCTAssertEqual(response.header("Content-Type"), "application/json")
            XCTAssertEqual(response.header("Content-Encoding"), "gzip")
            XCTAssertEqual(Data(response.body), gz)

            response = try await client.get("/compressed-br")
            XCTAssertEqual(response.header("Content-Encoding"), "br")

            response = try await client.get("/extension")
            XCTAssertEqual(response.header("Content-Type"), "application/json")
            XCTAssertNil(response.header("Content-Encoding"))
            XCTAssertEqual(Data(response.body), gz)

            response = try await client.get("/typed")
            XCTAssertEqual(response.status, 203)
            XCTAssertEqual(response.header("Content-Type"), "text/x-custom")
            XCTAssertEqual(response.text, "plain bytes")

            response = try await client.get("/unknown")
            XCTAssertEqual(response.header("Content-Type"), "application/octet-stream")
            response = try await client.get("/types-map")
            XCTAssertEqual(response.header("Content-Type"), "text/x-lua")
            response = try await client.get("/missing-caught")
            XCTAssertEqual(response.text, "caught")
        }
    }

    /// Streams from a coroutine, a function and one that sleeps between chunks.
    private let streamsApp = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:get("/thread", function(req)
          return coroutine.create(function()
            for i = 1, 3 do coroutine.yield("t" .. i) end
            return "ignored"
          end)
        end)
        app:get("/function", function(req)
          local i = 0
          return function()
            i = i + 1
            if i <= 3 then return "f" .. i end
          end
        end)
        app:get("/sleep", function(req)
          return coroutine.wrap(function()
            coroutine.yield("a")
            microdot.sleep(0.01)
            coroutine.yield("b")
          end)
        end)
        app:get("/sleep-handler", function(req)
          microdot.sleep(0.01)
          return "slept"
        end)
        return app
        """

    func testStreamsFromCoroutinesAndFunctionsAreChunkedBodies() async throws {
        try await withApp(streamsApp) { client in
            for (target, body) in [("/thread", "t1t2t3"), ("/function", "f1f2f3"), ("/sleep", "ab")] {
                let response = try await client.get(target)
                XCTAssertEqual(response.header("Transfer-Encoding"), "chunked", target)
                XCTAssertEqual(response.text, body, target)
            }
            let slept = try await client.get("/sleep-handler")
            XCTAssertEqual(slept.text, "slept")
        }
    }

    func testEachStreamedValueIsOneChunkOnTheWire() async throws {
        try await withApp(streamsApp, modes: [.live]) { client in
            for (target, chunks) in [
                ("/thread", ["t1", "t2", "t3"]), ("/function", ["f1", "f2", "f3"]), ("/sleep", ["a", "b"]),
            ] {
                let response = try await client.get(target)
                XCTAssertEqual(response.chunks?.map { String(decoding: $0, as: UTF8.self) }, chunks, target)
            }
        }
    }
}
