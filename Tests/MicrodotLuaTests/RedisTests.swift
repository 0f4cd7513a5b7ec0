import XCTest

@testable import MicrodotLua

/// microdot.redis (API contract section 17) against a private Debian
/// redis-server: type mappings, errors, timeouts, reconnection, the pool's
/// bound (CLIENT LIST), concurrency, pipelines and subscriptions
/// (Fixtures/redis_app.lua).
final class RedisTests: XCTestCase {
    private var redis: RedisServer!

    override func setUpWithError() throws {
        redis = try RedisServer()
        setenv("REDIS_URL", redis.url, 1)
    }

    override func tearDown() {
        redis = nil
        unsetenv("REDIS_URL")
    }

    private func server() throws -> TestServer {
        try TestServer(script: TestPaths.fixture("redis_app.lua"))
    }

    private func expectOK(_ server: TestServer, _ path: String, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let response = try server.request(path)
        XCTAssertEqual(response.status, 200, "\(path): \(response.text)\n\(server.log.text)", file: file, line: line)
        XCTAssertEqual(response.text, "ok", "\(path)\n\(server.log.text)", file: file, line: line)
    }

    func testEveryTypeMapsBothWays() throws {
        let server = try server()
        try expectOK(server, "/types")
        XCTAssertEqual(try redis.cli(["GET", "t:f"]).trimmingCharacters(in: .whitespacesAndNewlines), "2.5")
    }

    func testErrorsAreRedisErrorsNamingTheServer() throws {
        let server = try server()
        try expectOK(server, "/errors")
        let uncaught = try server.request("/uncaught")
        XCTAssertEqual(uncaught.status, 503)
        XCTAssertTrue(
            uncaught.text.contains("redis 127.0.0.1:\(redis.port): WRONGTYPE"), uncaught.text)
    }

    func testATimedOutCallFailsAndTheNextReconnects() throws {
        let server = try server()
        let start = Date()
        XCTAssertEqual(try server.request("/timeout").status, 200, server.log.text)
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.5)
    }

    /// One timer per pool serves every call's deadline: calls started one
    /// after another, while others wait, each fail on their own deadline
    /// (else BLPOP's own 2 s would answer nil and the route would fail).
    func testOverlappingCallsEachTimeOutOnTheirOwnDeadline() throws {
        let server = try server()
        let start = Date()
        let answers = LockedSet()
        DispatchQueue.concurrentPerform(iterations: 3) { index in
            Thread.sleep(forTimeInterval: Double(index) * 0.08)
            answers.insert(index * 1000 + ((try? server.request("/timeout").status) ?? 0))
        }
        XCTAssertEqual(answers.values, [200, 1200, 2200], server.log.text)
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.8)
    }

    func testCallsReconnectAfterTheServerRestarts() throws {
        let server = try server()
        try redis.cli(["SET", "k", "before"])
        XCTAssertEqual(try server.request("/get?k=k").text, "before")
        redis.stop()
        let down = try server.request("/get?k=k")
        XCTAssertEqual(down.status, 503, "no server: the call fails, nothing is retried")
        XCTAssertTrue(down.text.contains("redis 127.0.0.1:\(redis.port): connection refused"), down.text)
        try redis.start()
        try redis.cli(["SET", "k", "after"])
        XCTAssertEqual(try server.request("/get?k=k").text, "after")
    }

    func testAuthAndDatabaseFromTheURL() throws {
        redis = try RedisServer(arguments: ["--requirepass", "s3cret"])
        let app = MicrodotApp(
            source: """
                local redis = require("microdot.redis")
                local microdot = require("microdot")
                local app = microdot.Microdot()
                local good = redis.connect("redis://:s3cret@127.0.0.1:\(redis.port)/3")
                local named = redis.connect("redis://default:s3cret@127.0.0.1:\(redis.port)/3")
                local bad = redis.connect("redis://:wrong@127.0.0.1:\(redis.port)")
                local none = redis.connect("redis://127.0.0.1:\(redis.port)")
                app:get("/", function(req)
                  good:set("in3", "yes")
                  local _, wrong = pcall(bad.ping, bad)
                  local _, missing = pcall(none.ping, none)
                  return named:get("in3") .. "|" .. tostring(wrong) .. "|" .. tostring(missing)
                end)
                return app
                """)
        let server = try TestServer(app: app)
        let parts = try server.request("/").text.split(separator: "|").map(String.init)
        guard parts.count == 3 else { return XCTFail("\(parts)\n\(server.log.text)") }
        XCTAssertEqual(parts.first, "yes")
        XCTAssertTrue(parts[1].hasPrefix("redis 127.0.0.1:\(redis.port): WRONGPASS"), parts[1])
        XCTAssertTrue(parts[2].hasPrefix("redis 127.0.0.1:\(redis.port): NOAUTH"), parts[2])
        XCTAssertEqual(
            try redis.cli(["-a", "s3cret", "-n", "3", "GET", "in3"]).trimmingCharacters(in: .whitespacesAndNewlines),
            "yes")
    }

    /// Sends every request first, then reads every response: returns the
    /// seconds from the first send to the last response, and the bodies.
    private func concurrently(_ server: TestServer, _ paths: [String]) throws -> (Double, [RawResponse]) {
        let clients = try paths.map { _ in try server.client() }
        let start = Date()
        for (client, path) in zip(clients, paths) {
            try client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        let responses = try clients.map { try $0.readResponse() }
        return (Date().timeIntervalSince(start), responses)
    }

    func testTwoHundredBlockingCallsOnOneWorkerTakeAboutOneCall() throws {
        let server = try server()
        let paths = (0..<200).map { "/blpop?s=0.1&k=\($0)" }
        // The first round opens the 200 connections.
        let (first, warmup) = try concurrently(server, paths)
        XCTAssertEqual(warmup.filter { $0.status == 200 }.count, 200, server.log.text)
        let (elapsed, responses) = try concurrently(server, paths)
        XCTAssertEqual(responses.filter { $0.text == "nil" }.count, 200, server.log.text)
        print(
            "redis: 200 concurrent 100 ms BLPOPs on one worker: \(Int(elapsed * 1000)) ms (first round, "
                + "connecting: \(Int(first * 1000)) ms)")
        XCTAssertGreaterThanOrEqual(elapsed, 0.1)
        XCTAssertLessThan(elapsed, 0.6, "200 waits of 100 ms overlap")
        XCTAssertLessThanOrEqual(try redis.clientCount(), 200)
    }

    func testThePoolNeverOpensMoreThanPoolSize() throws {
        let server = try server()
        // Twelve calls of 200 ms, three at a time, from another thread
        // while this one watches CLIENT LIST.
        final class Outcome: @unchecked Sendable {
            var statuses: [Int] = []
            var elapsed = 0.0
        }
        let outcome = Outcome()
        let finished = DispatchSemaphore(value: 0)
        let port = server.port
        Thread.detachNewThread {
            let clients = (0..<12).compactMap { _ in try? RawHTTPClient(port: port) }
            let start = Date()
            for (index, client) in clients.enumerated() {
                try? client.send("GET /blpop?pool=narrow&s=0.2&k=\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
            }
            outcome.statuses = clients.map { (try? $0.readResponse().status) ?? 0 }
            outcome.elapsed = Date().timeIntervalSince(start)
            finished.signal()
        }
        var most = 0
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, finished.wait(timeout: .now() + 0.05) == .timedOut {
            most = max(most, try redis.clientCount())
        }
        let (statuses, elapsed) = (outcome.statuses, outcome.elapsed)
        XCTAssertEqual(statuses, Array(repeating: 200, count: 12), server.log.text)
        XCTAssertEqual(most, 3, "pool_size 3, seen on the server")
        XCTAssertGreaterThanOrEqual(elapsed, 0.75, "12 calls of 200 ms, 3 at a time")
    }

    func testPipelinesAndTransactions() throws {
        try expectOK(try server(), "/pipeline")
    }

    func testSubscriptions() throws {
        let server = try server()
        try expectOK(server, "/subscribe")
        XCTAssertEqual(try server.request("/subscribe-and-leave").text, "1")
        var left = ""
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline {
            left = try redis.cli(["PUBSUB", "NUMSUB", "left"])
            if left.hasSuffix("0\n") { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertEqual(left, "left\n0\n", "the request's subscription closed with it")
        XCTAssertEqual(try server.request("/flood").text, "201 200", server.log.text)
    }
}
