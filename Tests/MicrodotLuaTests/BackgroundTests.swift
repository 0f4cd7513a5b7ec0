import XCTest

@testable import MicrodotLua

/// `microdot.timer`, `on_start` and `spawn` (spec section 18) against a
/// real server (timers_app.lua).
final class BackgroundTests: XCTestCase {
    private func server(workers: Int = 1, handlerTimeout: Double? = nil) throws -> TestServer {
        try TestServer(
            app: MicrodotApp(scriptPath: TestPaths.fixture("timers_app.lua")),
            configuration: Configuration(workers: workers, handlerTimeout: handlerTimeout))
    }

    private func json(_ response: RawResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    /// The shared value under `key` once `condition` holds for it (or after 5 s).
    private func eventually(
        _ server: TestServer, _ key: String, _ condition: (LuaValue?) -> Bool = { $0 != nil }
    ) -> LuaValue? {
        let deadline = Date().addingTimeInterval(5)
        while !condition(server.server.shared.get(key)), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        return server.server.shared.get(key)
    }

    private func number(_ value: LuaValue?) -> Double? {
        switch value {
        case .integer(let n): return Double(n)
        case .number(let n): return n
        default: return nil
        }
    }

    func testOnStartRunsOncePerWorker() throws {
        let server = try server(workers: 3)
        XCTAssertEqual(number(eventually(server, "starts") { self.number($0) == 3 }), 3)
        for worker in 1...3 { XCTAssertEqual(number(server.server.shared.get("starts:\(worker)")), 1) }
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(number(server.server.shared.get("starts")), 3, "once, not again")
    }

    func testAtRunsWithinFiftyMillisecondsWhenIdle() throws {
        let server = try server()
        XCTAssertEqual(try server.request("/at?delay=0.1").text, "scheduled")
        let late = try XCTUnwrap(number(eventually(server, "at_late")))
        XCTAssertGreaterThanOrEqual(late, -0.001)
        XCTAssertLessThan(late, 0.05)
        XCTAssertEqual(try server.request("/at?delay=0").text, "scheduled")
    }

    func testEveryRunsEachIntervalWithinFiftyMilliseconds() throws {
        let server = try server()
        XCTAssertEqual(try server.request("/every?interval=0.05&n=5").text, "scheduled")
        guard
            case .table(let every)? = eventually(
                server, "every",
                { value in
                    if case .table(let t)? = value, case .integer(5)? = t["runs"] { return true }
                    return false
                })
        else { return XCTFail("no runs") }
        XCTAssertEqual(number(every["runs"]), 5)
        XCTAssertLessThan(try XCTUnwrap(number(every["worst"])), 0.05)
        Thread.sleep(forTimeInterval: 0.2)
        guard case .table(let after)? = server.server.shared.get("every") else { return XCTFail("gone") }
        XCTAssertEqual(number(after["runs"]), 5, "it cancelled itself after 5 runs")
    }

    func testCancel() throws {
        let server = try server()
        let result = json(try server.request("/cancel"))
        XCTAssertEqual(result["first"] as? Bool, true, "a pending run was dropped")
        XCTAssertEqual(result["second"] as? Bool, false, "nothing left to stop")
        XCTAssertEqual(result["every"] as? Bool, true)
        XCTAssertEqual(result["ran"] as? Bool, false)
    }

    func testAnEveryThatFailsIsLoggedAndGoesOn() throws {
        let server = try server()
        XCTAssertEqual(try server.request("/failing").text, "scheduled")
        XCTAssertGreaterThanOrEqual(number(eventually(server, "failures") { (self.number($0) ?? 0) >= 4 }) ?? 0, 4)
        XCTAssertEqual(try server.request("/failing/stop").text, "true")
        let log = server.log.text
        // The log may shorten a long path to ".../folder/file.lua".
        XCTAssertTrue(log.contains("error in timer.every (") && log.contains("timers_app.lua:50): "), log)
        XCTAssertTrue(log.contains("timers_app.lua:52: boom\n    stack traceback:"), log)
        let stopped = number(server.server.shared.get("failures"))
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(number(server.server.shared.get("failures")), stopped, "no run after cancel")
    }

    func testARunawayTimerIsStoppedByTheBudgetAndTheWorkerServes() throws {
        let server = try server(handlerTimeout: 0.3)
        XCTAssertEqual(try server.request("/runaway").text, "scheduled")
        let started = Date()
        XCTAssertEqual(try server.request("/ping").text, "pong")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        let log = server.log.text
        XCTAssertTrue(log.contains("error in timer.at (") && log.contains("timers_app.lua:59): handler timeout"), log)
        XCTAssertTrue(log.contains("handler timeout"), log)
        XCTAssertEqual(try server.request("/at?delay=0").text, "scheduled", "timers still run")
        XCTAssertNotNil(eventually(server, "at_late"))
    }

    func testTooManyPendingTimers() throws {
        let server = try server()
        let result = json(try server.request("/too-many"))
        XCTAssertEqual(result["made"] as? Int, 1024)
        XCTAssertTrue(
            (result["err"] as? String ?? "").contains("timers_app.lua:69: microdot.timer: too many pending timers"),
            "\(result)")
        let again = json(try server.request("/too-many"))
        XCTAssertEqual(again["made"] as? Int, 1024, "cancelled timers are no longer pending")
    }

    func testATimerAtTheTopLevelNamesOnStart() throws {
        let source = """
            local microdot = require("microdot")
            local app = microdot.Microdot()
            microdot.timer.at(1, print)
            return app
            """
        XCTAssertThrowsError(try TestServer(source: source)) { error in
            XCTAssertTrue("\(error)".contains(":3: microdot.timer: use microdot.on_start"), "\(error)")
        }
    }

    func testTwoSpawnedCallsWaitedOnTakeAboutOneOfThem() throws {
        let server = try server()
        let started = Date()
        let result = json(try server.request("/spawn"))
        let took = Date().timeIntervalSince(started)
        XCTAssertEqual(result["a"] as? Int, 42)
        XCTAssertEqual(result["more"] as? String, "more")
        XCTAssertEqual(result["b"] as? String, "b")
        let inLua = try XCTUnwrap(result["took"] as? Double)
        XCTAssertGreaterThanOrEqual(inLua, 0.099)
        XCTAssertLessThan(inLua, 0.15, "the two sleeps overlap")
        XCTAssertLessThan(took, 0.5)
    }

    func testASpawnedErrorIsRaisedByWait() throws {
        let server = try server()
        let result = json(try server.request("/spawn-error"))
        XCTAssertEqual(result["ok"] as? Bool, false)
        XCTAssertTrue((result["err"] as? String ?? "").contains("timers_app.lua:88: spawned boom"), "\(result)")
        XCTAssertFalse(server.log.text.contains("spawned boom"), "the waiter got it: not logged")
    }

    func testSpawnedCoroutinesCloseWithTheirRequest() throws {
        let server = try server()
        XCTAssertEqual(try server.request("/spawn-left").text, "left")
        XCTAssertEqual(eventually(server, "spawn_closed") { $0 == .boolean(true) }, .boolean(true))
    }

    func testShutdownDropsPendingTimersAndClosesRunningOnes() throws {
        let file = NSTemporaryDirectory() + "microdot-timers-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try Binary.run(
            [TestPaths.fixture("timers_app.lua"), "--port", "0", "--shutdown-timeout", "0.6"], until: "Serving on")
        let port = Int(run.output.split(separator: ":").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
        XCTAssertEqual(try RawHTTPClient(port: port).request("/setup?file=\(file)").text, "set up")
        Thread.sleep(forTimeInterval: 0.2)
        let started = Date()
        run.process.terminate()
        run.process.waitUntilExit()
        let took = Date().timeIntervalSince(started)
        XCTAssertEqual(run.process.terminationStatus, 0)
        XCTAssertGreaterThanOrEqual(took, 0.5, "the running timer had the shutdown timeout")
        XCTAssertLessThan(took, 5)
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.last, "closed", "the running timer was closed last: \(lines)")
        XCTAssertFalse(lines.contains("late"), "the pending timer was dropped (0.4 s < 0.6 s): \(lines)")
        XCTAssertGreaterThanOrEqual(lines.filter { $0 == "tick" }.count, 2)
    }

    func testOnStartRunsAgainAfterAReload() throws {
        let folder = NSTemporaryDirectory() + "microdot-onstart-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func script(_ version: String) -> String {
            """
            local microdot = require("microdot")
            microdot.on_start(function()
              microdot.shared:incr("starts", 1, 0)
              microdot.shared:set("version:" .. microdot.worker_id, "\(version)")
            end)
            return microdot.Microdot()
            """
        }
        try script("v1").write(toFile: folder + "/app.lua", atomically: true, encoding: .utf8)
        let server = try TestServer(
            app: MicrodotApp(scriptPath: folder + "/app.lua"), configuration: Configuration(workers: 2, reload: true))
        XCTAssertEqual(number(eventually(server, "starts") { self.number($0) == 2 }), 2)
        try script("v2").write(toFile: folder + "/app.lua", atomically: true, encoding: .utf8)
        XCTAssertEqual(number(eventually(server, "starts") { self.number($0) == 4 }), 4)
        XCTAssertEqual(server.server.shared.get("version:1"), LuaValue("v2"))
        XCTAssertEqual(server.server.shared.get("version:2"), LuaValue("v2"))
    }
}
