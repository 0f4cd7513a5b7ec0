import Logging
import MicrodotLua
import ServiceLifecycle
import XCTest

/// `MicrodotServer` in a swift-service-lifecycle `ServiceGroup`: graceful
/// shutdown of the group, or cancelling its task, stops the server after
/// the requests under way have finished; logs go through the program's
/// logger with `worker` and `request` metadata.
final class ServiceLifecycleTests: XCTestCase {
    private static let slowApp = """
        local microdot = require("microdot")
        local app = microdot.Microdot()
        app:get("/slow", function(req)
          microdot.log.info("slow request started")
          microdot.sleep(0.4)
          return "done"
        end)
        app:get("/stop", function(req)
          app:shutdown()
          return "bye"
        end)
        return app
        """

    private func startServer(_ log: LogCapture) throws -> MicrodotServer {
        try MicrodotServer.start(
            app: MicrodotApp(source: Self.slowApp), configuration: Configuration(host: "127.0.0.1", port: 0),
            logger: log.logger)
    }

    /// Sends GET /slow on a thread of its own and returns once Lua has it.
    private func startSlowRequest(port: Int, log: LogCapture) async throws -> Task<RawResponse, Error> {
        let request = Task.detached { try RawHTTPClient(port: port).request("/slow") }
        for _ in 0..<200 where !log.text.contains("slow request started") {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTAssertTrue(log.text.contains("slow request started"), log.text)
        return request
    }

    /// Whether `task` ends within `seconds` (polled, so that a server that
    /// never stops fails the test instead of hanging it).
    private func ends(_ task: Task<Void, Error>, within seconds: Double) async throws -> Bool {
        let ended = LockedCounter()
        Task.detached {
            _ = await task.result
            ended.increment()
        }
        for _ in 0..<Int(seconds * 100) where ended.value == 0 {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        return ended.value > 0
    }

    func testCancellingTheGroupShutsDownGracefully() async throws {
        let log = LogCapture()
        let server = try startServer(log)
        let port = server.port
        let group = ServiceGroup(services: [server], logger: log.logger)
        let running = Task { try await group.run() }
        let request = try await startSlowRequest(port: port, log: log)

        running.cancel()
        let response = try await request.value
        XCTAssertEqual(response.text, "done", "the request under way finished")
        XCTAssertEqual(response.headers("Connection"), ["close"])
        let ended = try await ends(running, within: 10)
        XCTAssertTrue(ended, "the group ended")
        XCTAssertTrue(log.text.contains("shutting down"), log.text)
        XCTAssertThrowsError(try RawHTTPClient(port: port).request("/slow"), "no longer listening")
    }

    func testGracefulShutdownOfTheGroupAsOnSIGTERM() async throws {
        let log = LogCapture()
        let server = try startServer(log)
        let port = server.port
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: log.logger)
        let running = Task { try await group.run() }
        let request = try await startSlowRequest(port: port, log: log)

        await group.triggerGracefulShutdown()
        let answer = try await request.value.text
        XCTAssertEqual(answer, "done")
        let ended = try await ends(running, within: 10)
        XCTAssertTrue(ended, "the group ended")
        if ended { try await running.value }
        XCTAssertThrowsError(try RawHTTPClient(port: port).request("/slow"))
        // The program's logger got Lua's record with the worker and request.
        let line = log.text.split(separator: "\n").first { $0.contains("slow request started") } ?? ""
        XCTAssertTrue(line.contains("request=1-1"), String(line))
        XCTAssertTrue(line.contains("worker=1"), String(line))
    }

    func testRunReturnsWhenTheAppShutsDown() async throws {
        let log = LogCapture()
        let server = try startServer(log)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)],
                logger: log.logger))
        let running = Task { try await group.run() }
        let port = server.port
        let bye = try await Task.detached { try RawHTTPClient(port: port).request("/stop").text }.value
        XCTAssertEqual(bye, "bye")
        let ended = try await ends(running, within: 10)
        XCTAssertTrue(ended, "the group ended")
        if ended { try await running.value }
        // Waiting again, sync or async, returns at once.
        try await server.waitUntilStopped()
        try server.wait()
    }
}
