import XCTest

@testable import MicrodotLua

/// README "Routes": URL patterns, methods, HEAD, OPTIONS, 404 and 405, in
/// process and over a socket.
final class RoutingTests: AppTestCase {
    func testAnIntegerSegmentIsALuaIntegerAndAnythingElseIsNotFound() async throws {
        try await withApp(
            """
            local app = require("microdot").Microdot()
            app:get("/users/<int:id>", function(req, id)
              return {id = id, type = math.type(id), from_args = req.url_args.id}
            end)
            return app
            """
        ) { client in
            let response = try await client.get("/users/-42")
            XCTAssertEqual(response.status, 200)
            let object = jsonObject(response)
            XCTAssertEqual(object["id"] as? Int, -42)
            XCTAssertEqual(object["type"] as? String, "integer")
            XCTAssertEqual(object["from_args"] as? Int, -42)
            let abc = try await client.get("/users/abc")
            XCTAssertEqual(abc.status, 404)
            let float = try await client.get("/users/1.5")
            XCTAssertEqual(float.status, 404)
        }
    }

    func testAStringSegmentIsOneNonEmptyPercentDecodedSegment() async throws {
        try await withApp(
            """
            local app = require("microdot").Microdot()
            app:get("/names/<name>", function(req, name) return name end)
            return app
            """
        ) { client in
            let decoded = try await client.get("/names/J%C3%BCrgen%20M")
            XCTAssertEqual(decoded.text, "Jürgen M")
            let empty = try await client.get("/names/")
            XCTAssertEqual(empty.status, 404)
            let two = try await client.get("/names/a/b")
            XCTAssertEqual(two.status, 404)
        }
    }

    func testAPathSegmentTakesSlashesAndTheFirstMatchingRouteWins() async throws {
        try await withApp(
            """
            local app = require("microdot").Microdot()
            app:get("/files/<path:path>", function(req, path) return path end)
            app:get("/files/<path:path>/edit", function(req, path) return "never: the route above wins" end)
            app:get("/tree/<path:path>/edit", function(req, path) return "edit " .. path end)
            return app
            """
        ) { client in
            let file = try await client.get("/files/a/b/c.txt")
            XCTAssertEqual(file.text, "a/b/c.txt")
            let shadowed = try await client.get("/files/a/b/edit")
            XCTAssertEqual(shadowed.text, "a/b/edit", "the first matching route wins")
            let edit = try await client.get("/tree/a/b/edit")
            XCTAssertEqual(edit.text, "edit a/b")
        }
    }

    func testRegexAndCustomSegmentTypesMatchAndParse() async throws {
        try await withApp(
            """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            app:get("/hex/<re:[0-9a-f]+:value>", function(req, value) return "hex " .. value end)
            app:get("/two/<a>/<int:b>", function(req, a, b) return a .. "+" .. tostring(b) end)
            microdot.URLPattern.register_type("upper", "[A-Z]+", function(s)
              if s == "NONE" then return nil end
              return s:lower()
            end)
            app:get("/upper/<upper:word>", function(req, word) return word end)
            return app
            """
        ) { client in
            let hex = try await client.get("/hex/ff00")
            XCTAssertEqual(hex.text, "hex ff00")
            let notHex = try await client.get("/hex/xyz")
            XCTAssertEqual(notHex.status, 404)
            let upper = try await client.get("/upper/HELLO")
            XCTAssertEqual(upper.text, "hello")
            let refused = try await client.get("/upper/NONE")
            XCTAssertEqual(refused.status, 404, "a parser returning nil means no match")
            let lower = try await client.get("/upper/lower")
            XCTAssertEqual(lower.status, 404)
            let two = try await client.get("/two/x/7")
            XCTAssertEqual(two.text, "x+7")
        }
    }

    func testLiteralSegmentsMatchLiterallyNotAsPatterns() async throws {
        try await withApp(
            """
            local app = require("microdot").Microdot()
            app:get("/literal/file.txt", function(req) return "literal" end)
            return app
            """
        ) { client in
            let literal = try await client.get("/literal/file.txt")
            XCTAssertEqual(literal.text, "literal")
            let dotAsWildcard = try await client.get("/literal/fileXtxt")
            XCTAssertEqual(dotAsWildcard.status, 404)
        }
    }

    /// The routes the method tests share.
    private let methodsApp = """
        local app = require("microdot").Microdot()
        app:route("/items", {"GET", "POST"}, function(req) return req.method .. " items" end)
        app:put("/put", function(req) return "put" end)
        app:patch("/patch", function(req) return "patch" end)
        app:delete("/delete", function(req) return "delete" end)
        app:get("/same", function(req) return "get same" end)
        app:post("/same", function(req) return "post same" end)
        return app
        """

    func testEachMethodReachesItsRouteAndALaterRouteCanTakeAnotherMethod() async throws {
        try await withApp(methodsApp) { client in
            let items = try await client.request("/items", method: "POST")
            XCTAssertEqual(items.text, "POST items")
            let put = try await client.request("/put", method: "PUT")
            XCTAssertEqual(put.text, "put")
            let patch = try await client.request("/patch", method: "PATCH")
            XCTAssertEqual(patch.text, "patch")
            let delete = try await client.request("/delete", method: "DELETE")
            XCTAssertEqual(delete.text, "delete")
            let same = try await client.request("/same", method: "POST")
            XCTAssertEqual(same.text, "post same", "a later route can take the method")
        }
    }

    func testAnotherMethodOnAKnownPathIs405WithAllow() async throws {
        try await withApp(methodsApp) { client in
            let response = try await client.get("/put")
            XCTAssertEqual(response.status, 405)
            XCTAssertEqual(response.reason, "Method Not Allowed")
            XCTAssertEqual(response.header("Allow"), "PUT, OPTIONS")
            XCTAssertEqual(response.text, "Method not allowed")
        }
    }

    func testOptionsListsTheMethodsOfEveryRouteOnThePath() async throws {
        try await withApp(methodsApp) { client in
            let response = try await client.request("/items", method: "OPTIONS")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.header("Allow"), "GET, POST, HEAD, OPTIONS")
            let same = try await client.request("/same", method: "OPTIONS")
            XCTAssertEqual(same.header("Allow"), "GET, POST, HEAD, OPTIONS")
            let nowhere = try await client.request("/nowhere", method: "OPTIONS")
            XCTAssertEqual(nowhere.header("Allow"), "OPTIONS")
        }
    }

    func testAnUnknownPathIsAPlainText404() async throws {
        try await withApp(methodsApp) { client in
            let response = try await client.get("/nowhere")
            XCTAssertEqual(response.status, 404)
            XCTAssertEqual(response.text, "Not found")
            XCTAssertEqual(response.header("Content-Type"), "text/plain; charset=UTF-8")
        }
    }

    /// The routes the HEAD tests share.
    private let headApp = """
        local app = require("microdot").Microdot()
        app:get("/text", function(req) return "text" end)
        app:get("/status", function(req) return "text", 202 end)
        app:get("/stream", function(req)
          local i = 0
          return function()
            i = i + 1
            if i <= 3 then return "f" .. i end
          end
        end)
        return app
        """

    func testHeadRunsTheGetRouteAndSendsNoBody() async throws {
        try await withApp(headApp) { client in
            let head = try await client.request("/text", method: "HEAD")
            XCTAssertEqual(head.status, 200)
            XCTAssertEqual(head.header("Content-Length"), "4")
            XCTAssertEqual(head.body, [])
            let streamHead = try await client.request("/stream", method: "HEAD")
            XCTAssertEqual(streamHead.status, 200)
            XCTAssertEqual(streamHead.body, [])
        }
    }

    func testAConnectionStaysInStepAfterHeadResponses() async throws {
        try await withApp(headApp, modes: [.live]) { app in
            let client = try app.connection()
            XCTAssertEqual(try client.request("/text", method: "HEAD").status, 200)
            XCTAssertEqual(try client.request("/text").text, "text")
            XCTAssertEqual(try client.request("/stream", method: "HEAD").status, 200)
            XCTAssertEqual(try client.request("/status").text, "text")
        }
    }

    func testAScriptRequiresModulesFromItsOwnFolder() async throws {
        try await withApp(
            """
            local helper = require("modules.helper")
            local app = require("microdot").Microdot()
            app:get("/", function(req) return helper.greet("module") end)
            return app
            """
        ) { client in
            let response = try await client.get("/")
            XCTAssertEqual(response.text, "hello from module")
        }
    }
}
