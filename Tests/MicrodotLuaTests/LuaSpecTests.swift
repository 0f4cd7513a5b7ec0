import XCTest

@testable import MicrodotLua

/// The Lua specs in Tests/LuaSpecs (`*_spec.lua`, run by `microdot-lua
/// --test` through `microdot.test_client`), and how spec scripts run.
final class LuaSpecTests: XCTestCase {
    func testEveryLuaSpecRunsAtLeastOneCaseAndNoneFails() throws {
        let folder = TestPaths.packageRoot + "/Tests/LuaSpecs/"
        let specs = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix("_spec.lua") }
        XCTAssertFalse(specs.isEmpty, "no spec in \(folder)")
        for spec in specs.sorted() {
            let result = try Binary.run(["--test", folder + spec])
            XCTAssertEqual(result.status, 0, "\(spec):\n\(result.output)")
            let summary = result.output.firstMatch(of: #/(\d+) tests, (\d+) failed/#)
            XCTAssertEqual(summary.map { String($0.2) }, "0", "\(spec):\n\(result.output)")
            XCTAssertGreaterThan(summary.flatMap { Int($0.1) } ?? 0, 0, "\(spec) ran no case")
        }
    }

    func testTheCRUDExampleSpec() throws {
        let log = LogCapture()
        XCTAssertNoThrow(
            try MicrodotApp(scriptPath: TestPaths.example("crud/test_app.lua")).runScript(logger: log.logger))
    }

    func testAFailingScriptThrowsWithTheLine() throws {
        let app = MicrodotApp(
            source: """
                local microdot = require("microdot")
                local app = microdot.Microdot()
                app:get("/", function(req) return "hi" end)
                local res = microdot.test_client(app):get("/")
                assert(res.text == "bye", "unexpected body " .. res.text)
                """, name: "failing_spec.lua")
        XCTAssertThrowsError(try app.runScript()) { error in
            XCTAssertTrue("\(error)".contains("failing_spec.lua:5: unexpected body hi"), "\(error)")
        }
    }

    func testTheBinaryExitsNonZeroWhenASpecFails() throws {
        let path = NSTemporaryDirectory() + "microdot-failing-\(getpid()).lua"
        try "error('this spec fails')\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let failing = try Binary.run(["--test", path])
        XCTAssertNotEqual(failing.status, 0)
        XCTAssertTrue(failing.output.contains("this spec fails"), failing.output)
    }

    func testASleepInATestScriptDoesNotWait() throws {
        let app = MicrodotApp(
            source: """
                local microdot = require("microdot")
                local app = microdot.Microdot()
                app:get("/", function(req) microdot.sleep(30); return "woke" end)
                assert(microdot.test_client(app):get("/").text == "woke")
                """)
        let start = Date()
        try app.runScript()
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }
}
