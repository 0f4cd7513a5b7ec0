import XCTest

@testable import MicrodotLua

/// A script that does not load stops start-up with file and line; the
/// binary exits non-zero with a readable message.
final class StartupTests: XCTestCase {
    private func startError(_ fixture: String) -> String {
        do {
            _ = try TestServer(script: TestPaths.fixture(fixture))
            return "started"
        } catch {
            return "\(error)"
        }
    }

    func testSyntaxErrorNamesFileAndLine() {
        let message = startError("syntax_error.lua")
        XCTAssertTrue(message.contains("syntax_error.lua:6:"), message)
        XCTAssertTrue(message.contains("'end' expected"), message)
    }

    func testRuntimeErrorAtTopLevelNamesFileAndLine() {
        let message = startError("runtime_error.lua")
        XCTAssertTrue(message.contains("runtime_error.lua:4:"), message)
        XCTAssertTrue(message.contains("attempt to index"), message)
    }

    func testScriptWithoutAnApp() {
        XCTAssertTrue(startError("no_app.lua").contains("neither returns an app nor calls app:run()"))
    }

    func testBadRoutePatternNamesTheLine() {
        let message = startError("bad_route.lua")
        XCTAssertTrue(message.contains("bad_route.lua:3:"), message)
        XCTAssertTrue(message.contains("invalid URL segment type: float"), message)
    }

    func testMissingScript() {
        XCTAssertTrue(startError("does_not_exist.lua").contains("cannot open"))
    }

    func testAppRunOptionsAreUsed() throws {
        let server = try TestServer(app: MicrodotApp(scriptPath: TestPaths.fixture("run_options.lua")))
        XCTAssertEqual(server.server.configuration.debug, true)
        XCTAssertEqual(try server.request("/").text, "ran")
        XCTAssertTrue(server.log.text.contains("GET / 200"), server.log.text)
    }

    func testSourceStringApps() throws {
        let server = try TestServer(
            source: """
                local microdot = require("microdot")
                local app = microdot.Microdot()
                app:get("/", function() return "from a string" end)
                return app
                """)
        XCTAssertEqual(try server.request("/").text, "from a string")
    }

    // MARK: The binary

    func testOneWorkerByDefaultAndTheLineSaysHowToGetMore() throws {
        let result = try Binary.run([TestPaths.example("hello/app.lua"), "--port", "0"], until: "Serving on")
        result.process.terminate()
        result.process.waitUntilExit()
        XCTAssertTrue(
            result.output.hasPrefix("1 worker (--workers N or --workers auto for more;"), result.output)
    }

    func testWorkersMustBeACountOrAuto() throws {
        let result = try Binary.run([TestPaths.example("hello/app.lua"), "--port", "0", "--workers", "many"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("--workers"), result.output)
    }

    func testAPortInUseNamesTheAddressAndWhatToDo() throws {
        let first = try Binary.run([TestPaths.example("hello/app.lua"), "--port", "0"], until: "Serving on")
        defer {
            first.process.terminate()
            first.process.waitUntilExit()
        }
        let port = first.output.split(separator: ":").last!.trimmingCharacters(in: .whitespacesAndNewlines)
        let second = try Binary.run([TestPaths.example("hello/app.lua"), "--port", port])
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(
            second.output.contains("cannot listen on 127.0.0.1:\(port): the port is in use"), second.output)
        XCTAssertTrue(second.output.contains("--port"), second.output)
    }

    func testWorkersAutoFollowsTheCPUAffinity() throws {
        guard FileManager.default.fileExists(atPath: "/usr/bin/taskset") else { throw XCTSkip("no taskset") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        process.arguments = [
            "-c", "0", TestPaths.packageRoot + "/.build/debug/microdot-lua",
            TestPaths.example("hello/app.lua"), "--port", "0", "--workers", "auto",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var output = ""
        let deadline = Date().addingTimeInterval(20)
        while !output.contains("Serving on"), Date() < deadline, process.isRunning {
            output += String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        }
        process.terminate()
        process.waitUntilExit()
        XCTAssertTrue(output.hasPrefix("1 worker (one per core)\n"), "pinned to one CPU: \(output)")
    }

    func testBinaryReportsABadScriptAndExitsNonZero() throws {
        let result = try Binary.run([TestPaths.fixture("syntax_error.lua")])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("syntax_error.lua:6:"), result.output)
    }

    func testBinaryServesAndStopsOnSIGTERM() throws {
        let result = try Binary.run(
            [TestPaths.example("hello/app.lua"), "--port", "0", "--debug"], until: "Serving on")
        let port = Int(result.output.split(separator: ":").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
        XCTAssertEqual(try RawHTTPClient(port: port).request("/").text, "Hello, World!")
        result.process.terminate()
        result.process.waitUntilExit()
        XCTAssertEqual(result.process.terminationStatus, 0)
    }
}
