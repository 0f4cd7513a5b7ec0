import XCTest

@testable import MicrodotLua

/// README "Hooks", "Errors" (error handlers, abort) and "Mounting apps", in
/// process and over a socket.
final class HooksAndHandlersTests: AppTestCase {
    /// Hooks that record, in X-Trail, the order every hook and the route ran in.
    private let hooksApp = """
        local microdot = require("microdot")
        local json = microdot.json
        local app = microdot.Microdot()
        app:before_request(function(req)
          req.g.trail = {"app-before"}
          req.g.user = req.headers["X-User"]
          req:after_request(function(req, res)
            res.headers["X-Trail"] = table.concat(req.g.trail, ",")
          end)
          if req.headers["X-Deny"] then return "denied", 403 end
        end)
        app:after_request(function(req, res)
          table.insert(req.g.trail, "app-after")
          res.headers["X-After"] = "yes"
        end)
        app:after_error_request(function(req, res)
          res.headers["X-After-Error"] = tostring(res.status_code)
        end)
        app:get("/trail", function(req)
          table.insert(req.g.trail, "route")
          return "trail"
        end)
        app:get("/g", function(req) return {user = req.g.user or json.null} end)
        app:get("/replace", function(req)
          req:after_request(function(req, res)
            return microdot.Response("replaced by the request's hook", 202)
          end)
          return "original"
        end)
        return app
        """

    func testHooksRunInMicrodotsOrderAndAfterErrorHooksOnlyOnErrors() async throws {
        try await withApp(hooksApp) { client in
            let response = try await client.get("/trail")
            XCTAssertEqual(response.header("X-Trail"), "app-before,route,app-after")
            XCTAssertEqual(response.header("X-After"), "yes")
            XCTAssertNil(response.header("X-After-Error"))
        }
    }

    func testABeforeRequestHookCanAnswerAndAfterRequestHooksStillRun() async throws {
        try await withApp(hooksApp) { client in
            let response = try await client.get("/trail", headers: ["X-Deny": "1"])
            XCTAssertEqual(response.status, 403)
            XCTAssertEqual(response.text, "denied")
            XCTAssertEqual(response.header("X-After"), "yes")
        }
    }

    func testReqGCarriesValuesFromHooksToRoutesForOneRequest() async throws {
        try await withApp(hooksApp) { client in
            let ada = jsonObject(try await client.get("/g", headers: ["X-User": "ada"]))
            XCTAssertEqual(ada["user"] as? String, "ada")
            let nobody = jsonObject(try await client.get("/g"))
            XCTAssertTrue(nobody["user"] is NSNull, "g is per request")
        }
    }

    func testARequestsOwnAfterRequestHookCanReplaceTheResponse() async throws {
        try await withApp(hooksApp) { client in
            let response = try await client.get("/replace")
            XCTAssertEqual(response.status, 202)
            XCTAssertEqual(response.text, "replaced by the request's hook")
        }
    }

    /// Error handlers by status and by error class, abort, and a hook that
    /// marks error responses.
    private let handlersApp = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:after_error_request(function(req, res)
          res.headers["X-After-Error"] = tostring(res.status_code)
        end)
        app:errorhandler(404, function(req)
          return {error = "not here", path = req.path}, 404
        end)
        local ValidationError = {}
        ValidationError.__index = ValidationError
        local FieldError = setmetatable({}, {__index = ValidationError})
        FieldError.__index = FieldError
        app:errorhandler(ValidationError, function(req, err)
          return {invalid = err.field}, 422
        end)
        app:get("/raise/field", function(req) error(setmetatable({field = "email"}, FieldError)) end)
        app:get("/raise/validation", function(req) error(setmetatable({field = "name"}, ValidationError)) end)
        app:get("/raise/other", function(req) error({field = "unclassed"}) end)
        app:get("/raise/string", function(req) error("plain failure") end)
        app:get("/abort/<int:code>", function(req, code) microdot.abort(code) end)
        app:get("/abort-reason", function(req) microdot.abort(406, "Not acceptable here") end)
        app:get("/only-get", function(req) return "get" end)
        return app
        """

    func testA404HandlerAnswersForUnknownPathsAndAfterErrorHooksRun() async throws {
        try await withApp(handlersApp) { client in
            let response = try await client.get("/nowhere")
            XCTAssertEqual(response.status, 404)
            let body = jsonObject(response)
            XCTAssertEqual(body["error"] as? String, "not here")
            XCTAssertEqual(body["path"] as? String, "/nowhere")
            XCTAssertEqual(response.header("X-After-Error"), "404")
        }
    }

    func testA405ListsTheAllowedMethods() async throws {
        try await withApp(handlersApp) { client in
            let response = try await client.request("/only-get", method: "POST")
            XCTAssertEqual(response.status, 405)
            XCTAssertEqual(response.text, "Method not allowed")
            XCTAssertEqual(response.header("Allow"), "GET, HEAD, OPTIONS")
        }
    }

    func testErrorClassesMatchThroughIndexInheritanceAndOtherErrorsAre500() async throws {
        try await withApp(handlersApp) { client in
            let subclass = try await client.get("/raise/field")
            XCTAssertEqual(subclass.status, 422)
            XCTAssertEqual(jsonObject(subclass)["invalid"] as? String, "email")
            let theClass = try await client.get("/raise/validation")
            XCTAssertEqual(jsonObject(theClass)["invalid"] as? String, "name", "the class itself")
            let unclassed = try await client.get("/raise/other")
            XCTAssertEqual(unclassed.status, 500)
            XCTAssertEqual(unclassed.text, "Internal server error")
            let string = try await client.get("/raise/string")
            XCTAssertEqual(string.status, 500, "a string error")
            XCTAssertTrue(client.log.text.contains("app.lua:"), client.log.text)
        }
    }

    func testAbortAnswersWithItsStatusAndReasonThroughTheErrorHandlers() async throws {
        try await withApp(handlersApp) { client in
            let plain = try await client.get("/abort/418")
            XCTAssertEqual(plain.status, 418)
            XCTAssertEqual(plain.text, "418 error")
            XCTAssertEqual(plain.header("X-After-Error"), "418")
            let reasoned = try await client.get("/abort-reason")
            XCTAssertEqual(reasoned.status, 406)
            XCTAssertEqual(reasoned.text, "Not acceptable here")
            let handled = try await client.get("/abort/404")
            XCTAssertEqual(jsonObject(handled)["path"] as? String, "/abort/404", "abort goes through error handlers")
        }
    }

    /// `api` is mounted with local hooks and handlers, `admin` shares its
    /// own with the whole app.
    private let mountsApp = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:before_request(function(req)
          req.g.trail = {"app-before"}
          req:after_request(function(req, res)
            res.headers["X-Trail"] = table.concat(req.g.trail, ",")
          end)
        end)
        app:after_request(function(req, res) table.insert(req.g.trail, "app-after") end)

        local api = microdot.Microdot()
        api:before_request(function(req) table.insert(req.g.trail, "api-before") end)
        api:after_request(function(req, res) table.insert(req.g.trail, "api-after") end)
        api:errorhandler(404, function(req) return "api: no such item", 404 end)
        api:errorhandler(409, function(req) return "api conflict", 409 end)
        api:get("/items/<int:id>", function(req, id)
          table.insert(req.g.trail, "route")
          if id == 0 then microdot.abort(404) end
          if id == 1 then microdot.abort(409) end
          return {id = id, url_prefix = req.url_prefix, path = req.path}
        end)
        app:mount(api, "/api", {local_hooks = true})

        local admin = microdot.Microdot()
        admin:before_request(function(req) table.insert(req.g.trail, "admin-before") end)
        admin:errorhandler(401, function(req) return "admin only", 401 end)
        admin:get("/panel", function(req)
          if req.headers["X-Admin"] ~= "yes" then microdot.abort(401) end
          table.insert(req.g.trail, "route")
          return {url_prefix = req.url_prefix}
        end)
        app:mount(admin, "/admin")

        app:get("/needs-login", function(req) microdot.abort(401) end)
        app:get("/conflict", function(req) microdot.abort(409) end)
        return app
        """

    func testAnAppMountedWithLocalHooksKeepsItsHooksAndHandlersToItself() async throws {
        try await withApp(mountsApp) { client in
            let response = try await client.get("/api/items/5")
            let body = jsonObject(response)
            XCTAssertEqual(body["id"] as? Int, 5)
            XCTAssertEqual(body["url_prefix"] as? String, "/api")
            XCTAssertEqual(body["path"] as? String, "/api/items/5")
            XCTAssertEqual(response.header("X-Trail"), "app-before,admin-before,api-before,route,api-after,app-after")
            let missing = try await client.get("/api/items/0")
            XCTAssertEqual(missing.status, 404)
            XCTAssertEqual(missing.text, "api: no such item", "the mounted app's own 404 handler")
            let conflict = try await client.get("/api/items/1")
            XCTAssertEqual(conflict.text, "api conflict")
            let appConflict = try await client.get("/conflict")
            XCTAssertEqual(appConflict.text, "409 error", "local handlers stay local")
            let post = try await client.request("/api/items/5", method: "POST")
            XCTAssertEqual(post.status, 405, "405 in a mounted app")
        }
    }

    func testAnAppMountedWithoutLocalHooksSharesItsHooksAndHandlers() async throws {
        try await withApp(mountsApp) { client in
            let allowed = try await client.get("/admin/panel", headers: ["X-Admin": "yes"])
            XCTAssertEqual(jsonObject(allowed)["url_prefix"] as? String, "/admin")
            XCTAssertEqual(allowed.header("X-Trail"), "app-before,admin-before,route,app-after")
            let refused = try await client.get("/admin/panel")
            XCTAssertEqual(refused.status, 401)
            XCTAssertEqual(refused.text, "admin only", "the shared 401 handler")
            let elsewhere = try await client.get("/needs-login")
            XCTAssertEqual(elsewhere.text, "admin only", "applies to the whole app")
        }
    }
}
