import XCTest

@testable import MicrodotLua

/// README "Requests": attributes, query strings, forms, uploads, JSON and
/// cookies, in process and over a socket; and the limits on what a request
/// may send, over a socket.
final class RequestTests: AppTestCase {
    /// Every request attribute, as JSON.
    private let inspectApp = """
        local microdot = require("microdot")
        local json = microdot.json
        local app = microdot.Microdot()
        microdot.Request.max_content_length = 64 * 1024
        app:route("/inspect/<name>", {"GET", "POST", "PUT", "PATCH", "DELETE"}, function(req, name)
          return {
            method = req.method, url = req.url, path = req.path, query_string = req.query_string or json.null,
            http_version = req.http_version, scheme = req.scheme,
            client_host = req.client_addr[1], client_port_type = math.type(req.client_addr[2]),
            content_length = req.content_length, content_type = req.content_type or json.null,
            body = req.body, url_args = req.url_args, url_prefix = req.url_prefix, name = name,
            same_app = req.app == app, header = req.headers["x-test"] or json.null,
            header_upper = req.headers["X-TEST"] or json.null,
          }
        end)
        return app
        """

    // MARK: Attributes

    func testARequestCarriesItsMethodURLHeadersBodyAndClient() async throws {
        try await withApp(inspectApp) { client in
            let response = try await client.request(
                "/inspect/caf%C3%A9?x=1&y=2", method: "POST",
                headers: ["Content-Type": "text/plain", "x-test": "t"], body: Array("hello".utf8))
            XCTAssertEqual(response.status, 200, response.text)
            let body = jsonObject(response)
            XCTAssertEqual(body["method"] as? String, "POST")
            XCTAssertEqual(body["url"] as? String, "/inspect/caf%C3%A9?x=1&y=2")
            XCTAssertEqual(body["path"] as? String, "/inspect/café")
            XCTAssertEqual(body["query_string"] as? String, "x=1&y=2")
            XCTAssertEqual(body["http_version"] as? String, "1.1")
            XCTAssertEqual(body["scheme"] as? String, "http")
            XCTAssertEqual(body["client_host"] as? String, "127.0.0.1")
            XCTAssertEqual(body["client_port_type"] as? String, "integer")
            XCTAssertEqual(body["content_length"] as? Int, 5)
            XCTAssertEqual(body["content_type"] as? String, "text/plain")
            XCTAssertEqual(body["body"] as? String, "hello")
            XCTAssertEqual(body["url_args"] as? [String: String], ["name": "café"])
            XCTAssertEqual(body["name"] as? String, "café")
            XCTAssertEqual(body["url_prefix"] as? String, "")
            XCTAssertEqual(body["same_app"] as? Bool, true)
            XCTAssertEqual(body["header"] as? String, "t")
            XCTAssertEqual(body["header_upper"] as? String, "t")
        }
    }

    func testARequestWithoutBodyOrQueryHasNoQueryStringAndAnEmptyBody() async throws {
        try await withApp(inspectApp) { client in
            let body = jsonObject(try await client.get("/inspect/x"))
            XCTAssertTrue(body["query_string"] is NSNull)
            XCTAssertEqual(body["body"] as? String, "")
            XCTAssertEqual(body["content_length"] as? Int, 0)
            XCTAssertTrue(body["content_type"] is NSNull)
        }
    }

    func testEveryMethodReachesARouteThatListsIt() async throws {
        try await withApp(inspectApp) { client in
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                let response = try await client.request("/inspect/m", method: method)
                XCTAssertEqual(jsonObject(response)["method"] as? String, method)
            }
        }
    }

    func testHeadAnswersWithTheGetResponsesLengthAndNoBody() async throws {
        try await withApp(inspectApp) { client in
            let head = try await client.request("/inspect/h", method: "HEAD")
            XCTAssertEqual(head.status, 200)
            XCTAssertEqual(head.body, [])
            XCTAssertGreaterThan(Int(head.header("Content-Length") ?? "") ?? 0, 0, "Content-Length of the GET body")
        }
    }

    func testOptionsAnswersWithEveryMethodOfTheRoute() async throws {
        try await withApp(inspectApp) { client in
            let response = try await client.request("/inspect/x", method: "OPTIONS")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.header("Allow"), "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
        }
    }

    func testAnHTTP10RequestHasVersion10() async throws {
        try await withApp(inspectApp, modes: [.live]) { app in
            let response = try app.connection().request("/inspect/v", version: "HTTP/1.0")
            XCTAssertEqual(jsonObject(response)["http_version"] as? String, "1.0")
        }
    }

    func testAChunkedRequestBodyArrivesWholeWithItsLength() async throws {
        try await withApp(inspectApp, modes: [.live]) { app in
            let client = try app.connection()
            try client.send(
                "POST /inspect/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            let body = jsonObject(try client.readResponse())
            XCTAssertEqual(body["body"] as? String, "hello world")
            XCTAssertEqual(body["content_length"] as? Int, 11)
        }
    }

    func testQueryStringsAreMultiDictsWithDefaultsAndConverters() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local json = microdot.json
            local app = microdot.Microdot()
            app:get("/args", function(req)
              return {
                q = req.args.q or json.null,
                all = json.array(req.args:getlist("q")),
                n = req.args:get("n", 0, tonumber),
                missing = req.args:get("missing", "default"),
                bad = req.args:get("bad", -1, tonumber),
                decoded = req.args["a b"] or json.null,
                empty = req.args.empty or json.null,
              }
            end)
            return app
            """
        ) { client in
            let body = jsonObject(try await client.get("/args?q=one&q=two&n=42&bad=x&a+b=c%26d&empty"))
            XCTAssertEqual(body["q"] as? String, "one")
            XCTAssertEqual(body["all"] as? [String], ["one", "two"])
            XCTAssertEqual(body["n"] as? Int, 42)
            XCTAssertEqual(body["missing"] as? String, "default")
            XCTAssertEqual(body["bad"] as? Int, -1)
            XCTAssertEqual(body["decoded"] as? String, "c&d")
            XCTAssertEqual(body["empty"] as? String, "")
            let none = jsonObject(try await client.get("/args"))
            XCTAssertEqual(none["all"] as? [String], [], "no query: an empty list")
        }
    }

    // MARK: Bodies

    private let formsApp = """
        local microdot = require("microdot")
        local json = microdot.json
        local app = microdot.Microdot()
        app:post("/form", function(req)
          if req.form == nil then return {form = json.null} end
          return {
            name = req.form.name or json.null,
            tags = json.array(req.form:getlist("tag")),
            age = req.form:get("age", 0, math.tointeger),
            files = req.files and next(req.files) ~= nil or false,
          }
        end)
        app:post("/upload", function(req)
          local uploads = {}
          for _, upload in ipairs(req.files:getlist("file")) do
            uploads[#uploads + 1] = {
              filename = upload.filename, content_type = upload.content_type, size = upload.size,
              hex = (upload:read():gsub(".", function(c) return string.format("%02x", c:byte()) end)),
            }
          end
          return {title = req.form.title or json.null, uploads = json.array(uploads)}
        end)
        return app
        """

    /// A multipart/form-data body: (name, filename, content type, bytes) per part.
    private func multipart(_ boundary: String, _ parts: [(String, String?, String?, [UInt8])]) -> [UInt8] {
        var body: [UInt8] = []
        for (name, filename, contentType, value) in parts {
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\""
            if let filename { head += "; filename=\"\(filename)\"" }
            head += "\r\n"
            if let contentType { head += "Content-Type: \(contentType)\r\n" }
            body += Array((head + "\r\n").utf8) + value + Array("\r\n".utf8)
        }
        return body + Array("--\(boundary)--\r\n".utf8)
    }

    func testAnURLEncodedFormIsAMultiDict() async throws {
        try await withApp(formsApp) { client in
            let response = try await client.post(
                "/form", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: "name=Ada+Lovelace&tag=a&tag=b%2Fc&age=36")
            let body = jsonObject(response)
            XCTAssertEqual(body["name"] as? String, "Ada Lovelace")
            XCTAssertEqual(body["tags"] as? [String], ["a", "b/c"])
            XCTAssertEqual(body["age"] as? Int, 36)
            XCTAssertEqual(body["files"] as? Bool, false)
        }
    }

    func testThereIsNoFormForOtherContentTypes() async throws {
        try await withApp(formsApp) { client in
            let response = try await client.post("/form", headers: ["Content-Type": "text/plain"], body: "name=x")
            XCTAssertTrue(jsonObject(response)["form"] is NSNull)
        }
    }

    func testAMultipartUploadGivesFieldsAndFilesByteForByte() async throws {
        try await withApp(formsApp) { client in
            let binary: [UInt8] = [0, 1, 2, 255, 13, 10, 45, 45]
            let body = multipart(
                "B0und",
                [
                    ("title", nil, nil, Array("holiday".utf8)),
                    ("file", "a.bin", "application/x-thing", binary),
                    ("file", "b.txt", nil, Array("second\r\n--not-a-boundary".utf8)),
                ])
            let response = try await client.request(
                "/upload", method: "POST", headers: ["Content-Type": "multipart/form-data; boundary=B0und"], body: body)
            XCTAssertEqual(response.status, 200, response.text)
            let object = jsonObject(response)
            XCTAssertEqual(object["title"] as? String, "holiday")
            let uploads = object["uploads"] as? [[String: Any]] ?? []
            XCTAssertEqual(uploads.count, 2)
            XCTAssertEqual(uploads.first?["filename"] as? String, "a.bin")
            XCTAssertEqual(uploads.first?["content_type"] as? String, "application/x-thing")
            XCTAssertEqual(uploads.first?["size"] as? Int, binary.count)
            XCTAssertEqual(uploads.first?["hex"] as? String, "000102ff0d0a2d2d")
            XCTAssertEqual(uploads.last?["filename"] as? String, "b.txt")
            XCTAssertEqual(uploads.last?["content_type"] as? String, "application/octet-stream", "the default type")
            XCTAssertEqual(uploads.last?["size"] as? Int, 24)
        }
    }

    func testAMultipartFormWithoutFilesHasPlainFieldsAndAQuotedBoundaryWorks() async throws {
        try await withApp(formsApp) { client in
            let body = multipart(
                "b1",
                [
                    ("name", nil, nil, Array("x".utf8)), ("tag", nil, nil, Array("1".utf8)),
                    ("tag", nil, nil, Array("2".utf8)),
                ]
            )
            let response = try await client.request(
                "/form", method: "POST", headers: ["Content-Type": #"multipart/form-data; boundary="b1""#], body: body)
            let object = jsonObject(response)
            XCTAssertEqual(object["name"] as? String, "x")
            XCTAssertEqual(object["tags"] as? [String], ["1", "2"])
            XCTAssertEqual(object["age"] as? Int, 0)
            XCTAssertEqual(object["files"] as? Bool, false)
        }
    }

    func testAMalformedMultipartBodyOrOneWithoutBoundaryIsABadRequest() async throws {
        try await withApp(formsApp) { client in
            let unclosed = try await client.post(
                "/upload", headers: ["Content-Type": "multipart/form-data; boundary=B"],
                body: "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno closing")
            XCTAssertEqual(unclosed.status, 400)
            XCTAssertEqual(unclosed.text, "Bad request")
            let noBoundary = try await client.post(
                "/upload", headers: ["Content-Type": "multipart/form-data"], body: "x")
            XCTAssertEqual(noBoundary.status, 400)
        }
    }

    private let jsonApp = """
        local microdot = require("microdot")
        local json = microdot.json
        local app = microdot.Microdot()
        app:post("/json", function(req)
          local value = req.json
          if value == nil then return {got = json.null, kind = "none"} end
          return {got = value, kind = type(value)}
        end)
        app:get("/next", function(req) return "next" end)
        app:after_error_request(function(req, res)
          res.headers["X-After-Error"] = tostring(res.status_code)
        end)
        return app
        """

    func testAJSONBodyIsDecodedOnlyUnderAJSONContentType() async throws {
        try await withApp(jsonApp) { client in
            var body = jsonObject(
                try await client.post("/json", headers: ["Content-Type": "application/json"], body: #"{"a":[1,2]}"#))
            XCTAssertEqual(body["kind"] as? String, "table")
            XCTAssertEqual((body["got"] as? [String: Any])?["a"] as? [Int], [1, 2])
            body = jsonObject(
                try await client.post(
                    "/json", headers: ["Content-Type": "application/json; charset=utf-8"], body: "[1,2]"))
            XCTAssertEqual(body["got"] as? [Int], [1, 2], "an array, under a type with a charset")
            body = jsonObject(try await client.post("/json", headers: ["Content-Type": "text/plain"], body: "{}"))
            XCTAssertEqual(body["kind"] as? String, "none", "not JSON without the content type")
        }
    }

    func testMalformedJSONIsABadRequestThatAfterErrorHooksSee() async throws {
        try await withApp(jsonApp) { client in
            let bad = try await client.post("/json", headers: ["Content-Type": "application/json"], body: "{oops")
            XCTAssertEqual(bad.status, 400)
            XCTAssertEqual(bad.text, "Bad request")
            XCTAssertEqual(bad.header("X-After-Error"), "400")
        }
    }

    func testAConnectionGoesOnAfterMalformedJSON() async throws {
        try await withApp(jsonApp, modes: [.live]) { app in
            let client = try app.connection()
            let bad = try client.request(
                "/json", method: "POST", headers: ["Content-Type": "application/json"], body: Array("{oops".utf8))
            XCTAssertEqual(bad.status, 400)
            XCTAssertEqual(try client.request("/next").status, 200)
        }
    }

    func testCookiesAreReadAndSetCookieLinesWritten() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            app:get("/cookies", function(req) return req.cookies end)
            app:get("/set-cookies", function(req)
              local res = microdot.Response("set")
              res:set_cookie("session", "abc", {path = "/"})
              res:set_cookie("theme", "dark")
              return res
            end)
            return app
            """
        ) { client in
            let body = jsonObject(try await client.get("/cookies", headers: ["Cookie": "a=1; b = two ; flag"]))
            XCTAssertEqual(body as? [String: String], ["a": "1", "b": "two", "flag": ""])
            let set = try await client.get("/set-cookies")
            XCTAssertEqual(set.headers("Set-Cookie"), ["session=abc; Path=/", "theme=dark"])
        }
    }

    // MARK: Limits

    func testABodyAtMaxContentLengthIsAcceptedAndOneByteMoreIs413() async throws {
        try await withApp(inspectApp) { client in
            let fits = try await client.request(
                "/inspect/fits", method: "POST", body: Array(repeating: 120, count: 64 * 1024))
            XCTAssertEqual(fits.status, 200)
            XCTAssertEqual(jsonObject(fits)["content_length"] as? Int, 64 * 1024)
            let tooLarge = try await client.request(
                "/inspect/big", method: "POST", body: Array(repeating: 120, count: 64 * 1024 + 1))
            XCTAssertEqual(tooLarge.status, 413)
            XCTAssertEqual(tooLarge.text, "Payload too large")
        }
    }

    /// The inspect app, plus a hook that marks error responses.
    private var limitsApp: String {
        inspectApp.replacingOccurrences(
            of: "return app",
            with: """
                app:after_error_request(function(req, res)
                  res.headers["X-After-Error"] = tostring(res.status_code)
                end)
                return app
                """)
    }

    func testADeclaredBodyOverTheLimitIs413WithoutReadingIt() async throws {
        try await withApp(limitsApp, modes: [.live]) { app in
            let client = try app.connection()
            // Only the head is sent: the answer must not wait for 1 MiB of body.
            try client.send("POST /inspect/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 413)
            XCTAssertEqual(response.text, "Payload too large")
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertEqual(response.header("X-After-Error"), "413")
            XCTAssertTrue(try client.isClosed())
        }
    }

    func testAChunkedBodyOverTheLimitIs413() async throws {
        try await withApp(inspectApp, modes: [.live]) { app in
            let client = try app.connection()
            let chunk = String(repeating: "x", count: 32 * 1024)
            var request = "POST /inspect/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            for _ in 0..<3 { request += "8000\r\n\(chunk)\r\n" }
            request += "0\r\n\r\n"
            try client.send(request)
            XCTAssertEqual(try client.readResponse().status, 413)
        }
    }

    func testAHeaderLineOverMaxReadlineIs431AndCloses() async throws {
        try await withApp(inspectApp, modes: [.live]) { app in
            let client = try app.connection()
            try client.send(
                "GET /inspect/x HTTP/1.1\r\nHost: x\r\nX-Long: \(String(repeating: "a", count: 9000))\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 431)
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertTrue(try client.isClosed())
            XCTAssertEqual(try app.connection().request("/inspect/x").status, 200, "the server keeps serving")
        }
    }

    func testARequestLineOverMaxReadlineIs414AndCloses() async throws {
        try await withApp(inspectApp, modes: [.live]) { app in
            let client = try app.connection()
            try client.send("GET /inspect/x?q=\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(try client.readResponse().status, 414)
            XCTAssertTrue(try client.isClosed())
        }
    }

    func testMoreThanTheMaximumNumberOfHeadersIs431() async throws {
        try await withApp(inspectApp, modes: [.live]) { app in
            let client = try app.connection()
            var request = "GET /inspect/x HTTP/1.1\r\nHost: x\r\n"
            for index in 0..<150 { request += "X-H\(index): v\r\n" }
            try client.send(request + "\r\n")
            XCTAssertEqual(try client.readResponse().status, 431)
        }
    }

    func testAMalformedRequestIs400AndCloses() async throws {
        try await withApp(inspectApp, modes: [.live]) { app in
            let client = try app.connection()
            try client.send("GET /inspect/x HTTP/1.1\r\nHost x\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(response.text, "Bad request")
            XCTAssertTrue(try client.isClosed())
        }
    }

    func testConflictingContentLengthHeadersAre400() async throws {
        try await withApp(inspectApp, modes: [.live]) { app in
            let client = try app.connection()
            try client.send(
                "POST /inspect/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde")
            XCTAssertEqual(try client.readResponse().status, 400)
        }
    }

    func testTheDebugLogShowsMethodPathAndStatusButNotTheQuery() async throws {
        try await withApp(inspectApp, modes: [.live], debug: true) { client in
            _ = try await client.get("/inspect/x?secret=1")
            XCTAssertTrue(client.log.text.contains("GET /inspect/x 200"), client.log.text)
            XCTAssertFalse(client.log.text.contains("secret"), client.log.text)
        }
    }
}
