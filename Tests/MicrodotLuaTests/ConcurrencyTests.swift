import XCTest

@testable import MicrodotLua

/// Workers in parallel, requests that suspend, backpressure, disconnects,
/// microdot.shared and shutdown (concurrency_app.lua).
final class ConcurrencyTests: XCTestCase {
    private func server(workers: Int = 1, shutdownTimeout: Double? = nil) throws -> TestServer {
        try TestServer(
            app: MicrodotApp(scriptPath: TestPaths.fixture("concurrency_app.lua")),
            configuration: Configuration(workers: workers, shutdownTimeout: shutdownTimeout))
    }

    private func json(_ response: RawResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    func testRequestsOnSeveralWorkersRunInParallel() throws {
        let server = try server(workers: 2)
        let busy = try server.client()
        let other = try server.client()
        // Connections go to the loops in turn: `busy` and `other` land on
        // different workers. `busy` keeps its worker's thread for 1.5 s.
        try busy.send("GET /spin?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.2)
        let start = Date()
        let answer = try other.request("/whoami")
        let waited = Date().timeIntervalSince(start)
        let busyWorker = try busy.readResponse().text
        XCTAssertNotEqual(answer.text, busyWorker, "two workers answered")
        XCTAssertLessThan(waited, 1.0, "the second worker did not wait for the first")
    }

    func testASleepingRequestDoesNotBlockItsWorker() throws {
        let server = try server(workers: 1)
        let sleeper = try server.client()
        let start = Date()
        try sleeper.send("GET /sleep?s=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(try server.request("/fast").text, "fast")
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.8, "served while the other request slept")
        XCTAssertEqual(try sleeper.readResponse().text, "slept")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.95)
    }

    func testAGeneratorMaySleepBetweenChunks() throws {
        let server = try server()
        let start = Date()
        let response = try server.request("/clock?ticks=3&every=0.1")
        XCTAssertEqual(response.header("Content-Type"), "text/event-stream")
        XCTAssertEqual(response.chunks?.count, 3)
        XCTAssertEqual(response.text, "data: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\n")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.3)
    }

    func testASlowReaderHoldsTheGeneratorBackAndADisconnectClosesIt() throws {
        let server = try server()
        let reader = try server.client()
        try reader.send("GET /infinite HTTP/1.1\r\nHost: x\r\n\r\n")
        // The client reads nothing: the generator may only run ahead by what
        // the socket buffers hold, not without limit.
        Thread.sleep(forTimeInterval: 1.0)
        let first = json(try server.request("/produced"))["produced"] as? Int ?? -1
        Thread.sleep(forTimeInterval: 0.5)
        let second = json(try server.request("/produced"))["produced"] as? Int ?? -1
        XCTAssertGreaterThan(first, 0)
        XCTAssertLessThan(first, 256, "at most 16 MiB in flight (64 KiB chunks)")
        XCTAssertLessThanOrEqual(second - first, 2, "a stalled client stalls the generator")
        XCTAssertEqual(json(try server.request("/produced"))["closed"] as? Bool, false)

        reader.close()
        let deadline = Date().addingTimeInterval(5)
        var closed = false
        while !closed, Date() < deadline {
            closed = json(try server.request("/produced"))["closed"] as? Bool ?? false
            if !closed { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertTrue(closed, "the to-be-closed variable ran when the client went away")
    }

    func testSharedCountsConcurrentIncrementsFromEveryWorker() throws {
        let server = try server(workers: 2)
        let clients = 8
        let requests = 50
        let workers = LockedSet()
        DispatchQueue.concurrentPerform(iterations: clients) { _ in
            guard let client = try? server.client() else { return }
            for _ in 0..<requests {
                if let response = try? client.request("/incr"),
                    let worker = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?[
                        "worker"] as? Int
                {
                    workers.insert(worker)
                }
            }
        }
        XCTAssertEqual(json(try server.request("/hits"))["hits"] as? Int, clients * requests)
        XCTAssertEqual(workers.values, [1, 2], "both workers counted")
        XCTAssertEqual(server.server.shared.get("hits"), .integer(clients * requests), "Swift sees the same store")
    }

    func testSharedExpiry() throws {
        let store = SharedStore()
        try store.set("short", "x", ttl: 0.1)
        try store.set("long", 1, ttl: 60)
        XCTAssertEqual(store.get("short"), "x")
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertNil(store.get("short"))
        XCTAssertEqual(try store.increment("long", by: 2), 3)
        XCTAssertThrowsError(try store.increment("short", by: 1)) { error in
            XCTAssertEqual(error as? SharedStore.IncrementError, .notFound)
        }
    }

    // MARK: Shutdown

    func testShutdownLetsAnInFlightRequestFinish() throws {
        let server = try server()
        let client = try server.client()
        try client.send("GET /sleep?s=0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        server.server.shutdown()
        let response = try client.readResponse()
        XCTAssertEqual(response.text, "slept")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertThrowsError(try RawHTTPClient(port: server.port), "no longer accepting")
        try server.server.wait()
    }

    func testShutdownClosesIdleKeepAliveConnections() throws {
        let server = try server()
        let idle = try server.client()
        XCTAssertEqual(try idle.request("/fast").text, "fast")
        let start = Date()
        server.server.shutdown()
        try server.server.wait()
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertTrue(try idle.isClosed())
    }

    func testStreamsGetABoundedGracePeriod() throws {
        let server = try server(shutdownTimeout: 0.5)
        let client = try server.client()
        try client.send("GET /clock?ticks=1000&every=0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.2)
        let start = Date()
        server.server.shutdown()
        try server.server.wait()
        let took = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(took, 0.4, "the stream had its grace period")
        XCTAssertLessThan(took, 5, "and no more")
        XCTAssertTrue(server.log.text.contains("shutting down: requests in progress have 0.5 s"), server.log.text)
        XCTAssertTrue(server.log.text.contains("shutdown: 0.5 s passed; closing the connections"), server.log.text)
    }

    func testAppShutdownFromLua() throws {
        let server = try server()
        XCTAssertEqual(try server.request("/shutdown").text, "bye")
        try server.server.wait()
    }

    func testSIGTERMDrainsAnInFlightRequestAndExitsZero() throws {
        let run = try Binary.run(
            [TestPaths.fixture("concurrency_app.lua"), "--port", "0", "--workers", "1"], until: "Serving on")
        let port = Int(run.output.split(separator: ":").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
        let client = try RawHTTPClient(port: port)
        try client.send("GET /sleep?s=0.7 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.2)
        run.process.terminate()
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "slept")
        run.process.waitUntilExit()
        XCTAssertEqual(run.process.terminationStatus, 0)
    }
}
