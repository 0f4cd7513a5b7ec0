import XCTest

@testable import MicrodotLua

/// Lua spec scripts run through `microdot.test_client`, in process and with
/// `microdot-lua --test`.
final class LuaSpecTests: XCTestCase {
    private func runSpec(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let log = LogCapture()
        do {
            try MicrodotApp(scriptPath: TestPaths.fixture(name)).runScript(logger: log.logger)
        } catch {
            XCTFail("\(name): \(error)", file: file, line: line)
        }
    }

    func testRequestsHooksAndErrorHandlersThroughTheTestClient() {
        runSpec("request_spec.lua")
    }

    func testTheTestClientReadsResponsesAsASocketClientWould() {
        runSpec("client_spec.lua")
    }

    func testPlainReturnsAreResponsesWhereverTheyCanBeSeen() {
        runSpec("plain_spec.lua")
    }

    func testCoroutineResumeBehavesAsLuas() {
        runSpec("coroutine_spec.lua")
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

    func testTheBinaryRunsSpecsAndExitsNonZeroOnFailure() throws {
        let passing = try Binary.run(["--test", TestPaths.fixture("request_spec.lua")])
        XCTAssertEqual(passing.status, 0, passing.output)
        XCTAssertTrue(passing.output.contains("25 tests, 0 failed"), passing.output)

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
