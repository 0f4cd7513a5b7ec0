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

    // MARK: Options out of range (Configuration's rules, wherever given)

    func testAppRunOptionsAreCheckedAtTheScriptsLine() {
        let cases: [(String, String)] = [
            (
                #"port = "abc""#,
                #"app:run: port must be an integer from 0 to 65535 (0 picks a free port), got the string "abc""#
            ),
            (
                "port = 70000",
                "app:run: port must be an integer from 0 to 65535 (0 picks a free port), got the number 70000"
            ),
            ("port = 80.5", "got the number 80.5"),
            ("workers = -3", "app:run: workers must be an integer from 1 to 1024, or auto, got the number -3"),
            (#"workers = "many""#, #"workers must be an integer from 1 to 1024, or auto, got the string "many""#),
            (#"debug = "yes""#, #"app:run: debug must be true or false, got the string "yes""#),
            ("host = 1", "app:run: host must be an address such as 127.0.0.1"),
            ("bogus = 1", "app:run: unknown option bogus (app:run takes host, port, workers and debug"),
            ("handler_timeout = 1, ssl = true", "app:run: unknown options handler_timeout, ssl"),
        ]
        for (options, expected) in cases {
            let source = """
                local app = require("microdot").Microdot()
                app:get("/", function() return "x" end)
                app:run{\(options)}
                """
            do {
                _ = try TestServer(app: MicrodotApp(source: source, name: "app.lua"))
                XCTFail("\(options) started")
            } catch {
                let message = "\(error)"
                XCTAssertTrue(
                    message.hasPrefix("app.lua:3: app:run: ") && message.contains(expected), "\(options): \(message)")
            }
        }
    }

    func testTheSwiftConfigurationIsCheckedBeforeAnythingStarts() {
        let app = MicrodotApp(source: "return require('microdot').Microdot()")
        let cases: [(Configuration, String)] = [
            (
                Configuration(port: 70000),
                "Configuration.port must be an integer from 0 to 65535 (0 picks a free port), got 70000"
            ),
            (
                Configuration(workers: -3),
                "Configuration.workers must be an integer from 0 to 1024 (0: one per core), got -3"
            ),
            (Configuration(host: ""), "Configuration.host must be an address such as 127.0.0.1"),
            (
                Configuration(handlerTimeout: -1),
                "Configuration.handlerTimeout must be a number of seconds from 0 to 1000000 (0: no limit), got -1"
            ),
            (Configuration(memoryLimit: -1), "Configuration.memoryLimit must be a number of bytes from 0 to"),
            (Configuration(sharedSize: 0), "Configuration.sharedSize must be a number of bytes from 1 to"),
            (
                Configuration(timeouts: Timeouts(idle: .nan)),
                "Configuration.timeouts.idle must be a number of seconds from 0 to 1000000 (0: no limit), got nan"
            ),
        ]
        for (configuration, expected) in cases {
            XCTAssertThrowsError(try MicrodotServer.start(app: app, configuration: configuration)) { error in
                XCTAssertTrue(error is ConfigurationError, "\(error)")
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error)")
            }
        }
        XCTAssertNoThrow(try Configuration(port: 0, workers: 0, handlerTimeout: 0, memoryLimit: 0).validate())
    }

    func testOutOfRangeFlagsNameTheFlagAndItsRangeAndExitNonZero() throws {
        let hello = TestPaths.example("hello/app.lua")
        let cases: [([String], String)] = [
            (["--port", "70000"], "--port must be an integer from 0 to 65535 (0 picks a free port), got 70000"),
            (["--port", "65536"], "--port must be an integer from 0 to 65535 (0 picks a free port), got 65536"),
            (["--port", "-1"], "--port must be an integer from 0 to 65535 (0 picks a free port), got -1"),
            (
                ["--handler-timeout", "-1"],
                "--handler-timeout must be a number of seconds from 0 to 1000000 (0: no limit), got -1"
            ),
            (["--workers", "-3"], "--workers must be an integer from 1 to 1024, or auto, got -3"),
            (["--workers", "0"], "--workers must be an integer from 1 to 1024, or auto, got 0"),
            (
                ["--memory-limit", "99999999999999"],
                "--memory-limit must be a number of MiB from 0 to 1048576 (0: no limit), got 99999999999999"
            ),
            (["--shared-size", "0"], "--shared-size must be a number of MiB from 1 to 1048576, got 0"),
            (
                ["--idle-timeout=-5"],
                "--idle-timeout must be a number of seconds from 0 to 1000000 (0: no limit), got -5"
            ),
        ]
        for (arguments, expected) in cases {
            let result = try Binary.run([hello] + arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.output.contains(expected), "\(arguments): \(result.output)")
        }
        let script = try Binary.run([TestPaths.fixture("run_options.lua"), "--port", "0"], until: "Serving on")
        script.process.terminate()
        script.process.waitUntilExit()
        XCTAssertTrue(script.output.contains("Serving on"), "in range, it serves: \(script.output)")
    }

    func testTheHelpGivesEachDefaultOnce() throws {
        let help = try Binary.run(["--help"]).output
        XCTAssertFalse(help.contains("(default:"), help)
        XCTAssertTrue(help.contains("--handler-timeout <seconds>"), help)
        for text in ["(default 10; 0: no limit)", "(default 60; 0: no limit)", "(default 64)", "(default 5000"] {
            XCTAssertTrue(help.contains(text), "\(text): \(help)")
        }
    }

    func testDebugShowsMicrodotLogDebugAndGivesRequestLinesTheirRequest() throws {
        let result = try Binary.run(
            [TestPaths.fixture("debug_log.lua"), "--port", "0", "--debug"], until: "Serving on")
        let port = Int(result.output.split(separator: ":").last!.trimmingCharacters(in: .whitespacesAndNewlines))
        let answer = try port.map { try RawHTTPClient(port: $0).request("/").text }
        let output = result.output + result.terminateAndRead()
        XCTAssertEqual(answer, "ok", output)
        XCTAssertTrue(output.contains(" debug microdot-lua: lua="), output)
        XCTAssertTrue(output.contains("debug_log.lua:3 worker=1 [MicrodotLua] loaded"), output)
        XCTAssertTrue(output.contains("debug_log.lua:5 request=1-1 worker=1 [MicrodotLua] in the route"), output)
        XCTAssertTrue(output.contains(" info microdot-lua: request=1-1 worker=1 [MicrodotLua] GET / 200"), output)
    }

    func testWithoutDebugMicrodotLogDebugStaysHidden() throws {
        let server = try TestServer(app: MicrodotApp(scriptPath: TestPaths.fixture("debug_log.lua")))
        XCTAssertEqual(try server.request("/").text, "ok")
        XCTAssertFalse(server.log.text.contains("in the route"), server.log.text)
        let debug = try TestServer(app: MicrodotApp(scriptPath: TestPaths.fixture("debug_log.lua")), debug: true)
        XCTAssertEqual(try debug.request("/").text, "ok")
        XCTAssertTrue(debug.log.text.contains("debug: in the route"), debug.log.text)
        XCTAssertTrue(debug.log.text.contains("loaded"), "the script's top level too: \(debug.log.text)")
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
