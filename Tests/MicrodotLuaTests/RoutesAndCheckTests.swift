import XCTest

@testable import MicrodotLua

/// `microdot-lua routes` and `microdot-lua check`: output and exit codes on
/// good and broken scripts. Run in the fixture's folder, so that file names
/// read as a user would type them.
final class RoutesAndCheckTests: XCTestCase {
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.packageRoot + "/.build/debug/microdot-lua")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: TestPaths.fixture("ops"))
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let errorText = errors.fileHandleForReading.readDataToEndOfFile()
        let outputText = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: outputText, as: UTF8.self),
            String(decoding: errorText, as: UTF8.self)
        )
    }

    func testRoutesListsEveryRouteInMatchingOrder() throws {
        let result = try run(["routes", "routes_app.lua"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(
            result.output,
            """
            METHODS    PATTERN              HANDLER
            GET        /                    routes_app.lua:6
            GET, POST  /items               routes_app.lua:7
            GET        /secret              routes_app.lua:13
            GET        /greet               routes_app.lua:18
            GET        /api/users/<int:id>  routes_app.lua:22
            DELETE     /api/users/<int:id>  routes_app.lua:23
            GET        /files/<path:path>   static public/
            GET        /files/              static public/
            GET        /files               static public/

            """)
    }

    func testRoutesJSON() throws {
        let result = try run(["routes", "routes_app.lua", "--json"])
        XCTAssertEqual(result.status, 0, result.errors)
        let rows = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]], result.output)
        XCTAssertEqual(rows.count, 9)
        XCTAssertEqual(
            rows[1] as NSDictionary, ["methods": ["GET", "POST"], "pattern": "/items", "handler": "routes_app.lua:7"])
        XCTAssertEqual(rows[4]["pattern"] as? String, "/api/users/<int:id>")
        XCTAssertTrue(result.output.hasPrefix(#"[{"methods":["GET"],"pattern":"/","handler":"routes_app.lua:6"}"#))
    }

    func testRoutesOfABrokenScriptExitsOneWithTheLoadError() throws {
        let syntax = try run(["routes", TestPaths.fixture("syntax_error.lua")])
        XCTAssertEqual(syntax.status, 1)
        XCTAssertTrue(syntax.errors.contains("syntax_error.lua:6:"), syntax.errors)
        XCTAssertEqual(syntax.output, "")
        let route = try run(["routes", "broken_route.lua"])
        XCTAssertEqual(route.status, 1)
        XCTAssertTrue(route.errors.contains("broken_route.lua:4:"), route.errors)
    }

    func testAScriptNamedLikeASubcommandIsGivenWithItsPath() throws {
        let result = try run(["./check", "--port", "0", "--help"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.contains("--reuse-port"), result.output)
        let check = try run(["check", "./check"])
        XCTAssertEqual(check.status, 0, check.errors)
        XCTAssertEqual(check.output, "./check: ok (2 routes)\n")
    }

    func testCheckAGoodScript() throws {
        let result = try run(["check", "check_app.lua", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.output, "check_app.lua: ok (2 routes)\n")
        let routes = try run(["check", "routes_app.lua", "--port", "8080", "--reuse-port"])
        XCTAssertEqual(routes.output, "routes_app.lua: ok (9 routes)\n", routes.errors)
    }

    func testCheckNamesEveryBrokenTemplateAndFlag() throws {
        let result = try run([
            "check", "broken_templates_app.lua", "--trusted-proxy", "10.0.0.0/40", "--port", "70000",
        ])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.output, "")
        let lines = result.errors.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, result.errors)
        XCTAssertEqual(
            lines.first, "--port: must be an integer from 0 to 65535 (0 picks a free port), got 70000")
        XCTAssertTrue(
            lines.contains {
                $0.hasPrefix(#"--trusted-proxy: must be an address or a network"#)
                    && $0.hasSuffix(#"got "10.0.0.0/40""#)
            }, result.errors)
        XCTAssertTrue(lines.contains { $0.hasPrefix("broken_templates/unclosed_block.html:3:") }, result.errors)
        XCTAssertTrue(lines.contains { $0.hasPrefix("broken_templates/unclosed_tag.html:3:") }, result.errors)
    }

    func testCheckABrokenScript() throws {
        let result = try run(["check", TestPaths.fixture("syntax_error.lua")])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errors.split(separator: "\n").count, 1, result.errors)
        XCTAssertTrue(result.errors.contains("syntax_error.lua:6: 'end' expected"), result.errors)
        let noApp = try run(["check", TestPaths.fixture("no_app.lua")])
        XCTAssertEqual(noApp.status, 1)
        XCTAssertTrue(noApp.errors.contains("neither returns an app"), noApp.errors)
    }

    func testInspectFromSwift() throws {
        let inspection = try MicrodotApp(scriptPath: TestPaths.fixture("ops/check_app.lua")).inspect(
            compilingTemplates: true)
        XCTAssertEqual(inspection.routes.map(\.pattern), ["/", "/list"])
        XCTAssertEqual(inspection.templateProblems, [])
    }
}
