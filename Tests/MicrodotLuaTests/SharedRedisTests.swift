import XCTest

@testable import MicrodotLua

/// `--shared redis://...` (spec section 21): `microdot.shared` and
/// `microdot.pubsub` through a private Debian redis-server, across servers
/// and `microdot-lua` processes (Fixtures/shared_app.lua).
final class SharedRedisTests: XCTestCase {
    private var redis: RedisServer!

    override func setUpWithError() throws {
        redis = try RedisServer()
    }

    override func tearDown() {
        redis = nil
    }

    private let script = TestPaths.fixture("shared_app.lua")

    private func server(workers: Int = 1) throws -> TestServer {
        try TestServer(
            app: MicrodotApp(scriptPath: script), configuration: Configuration(workers: workers, sharedURL: redis.url))
    }

    /// A `microdot-lua` process serving shared_app.lua with `--shared`.
    private final class Instance {
        let result: Binary.Result
        let port: Int

        init(_ arguments: [String]) throws {
            result = try Binary.run(arguments, until: "Serving on http://")
            let line = result.output.split(separator: "\n").first { $0.hasPrefix("Serving on http://") }
            guard let line, let port = Int(line.split(separator: ":").last!) else {
                _ = result.terminateAndRead()
                throw NSError(domain: "SharedRedisTests", code: 1, userInfo: [NSLocalizedDescriptionKey: result.output])
            }
            self.port = port
        }

        func request(_ target: String, method: String = "GET", body: String = "") throws -> RawResponse {
            try RawHTTPClient(port: port).request(target, method: method, body: Array(body.utf8))
        }

        deinit { _ = result.terminateAndRead() }
    }

    private func process(workers: Int = 2) throws -> Instance {
        try Instance([script, "--port", "0", "--workers", "\(workers)", "--shared", redis.url])
    }

    private func cli(_ arguments: String...) throws -> String {
        try redis.cli(arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testIncrIsAtomicAcrossTwoProcesses() throws {
        let processes = [try process(), try process()]
        // 2 processes x 20 concurrent requests x 25 increments each.
        let failures = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: 40) { index in
            let response = try? processes[index % 2].request("/incr/25", method: "POST")
            if response?.status != 200 { failures.increment() }
        }
        XCTAssertEqual(failures.value, 0)
        XCTAssertEqual(try cli("GET", "microdot:shared:hits"), "i:1000")
        let hits = jsonObject(try processes[1].request("/get/hits"))
        XCTAssertEqual(hits["value"] as? Int, 1000)
        XCTAssertEqual(hits["type"] as? String, "integer")
    }

    func testEveryTypeRoundTripsBetweenServers() throws {
        let (first, second) = (try server(), try server(workers: 2))
        XCTAssertEqual(try first.request("/put/x", method: "POST").text, "ok", first.log.text)
        XCTAssertEqual(try second.request("/check/x").text, "ok", second.log.text)
        XCTAssertEqual(jsonObject(try second.request("/get/loaded"))["type"] as? String, "boolean")
        XCTAssertEqual(try cli("GET", "microdot:shared:x:i"), "i:42")
        XCTAssertEqual(try cli("GET", "microdot:shared:x:f"), "f:0.1")
        XCTAssertEqual(try cli("GET", "microdot:shared:x:t"), "b:1")
        XCTAssertEqual(try cli("GET", "microdot:shared:x:empty"), "s:")
    }

    func testTTLsExpire() throws {
        let (first, second) = (try server(), try server())
        XCTAssertEqual(try first.request("/ttl/brief?s=0.4", method: "POST").text, "true nil false")
        XCTAssertEqual(jsonObject(try second.request("/get/brief"))["value"] as? String, "soon gone")
        let left = try XCTUnwrap(Int(try cli("PTTL", "microdot:shared:brief")))
        XCTAssertTrue((1...400).contains(left), "\(left) ms")
        Thread.sleep(forTimeInterval: 0.6)
        XCTAssertEqual(jsonObject(try second.request("/get/brief"))["type"] as? String, "nil")
    }

    func testEveryMethodGivesTheLocalStoresResults() throws {
        let server = try server()
        XCTAssertEqual(try server.request("/api").text, "ok", server.log.text)
    }

    func testRedisDownRaisesAtTheCallersLineAndRecovers() throws {
        let server = try server()
        XCTAssertEqual(try server.request("/down").text, #"{"ok":true}"#)
        redis.stop()
        let down = try server.request("/down").text
        XCTAssertTrue(
            down.contains(#"shared_app.lua:112: microdot.shared: redis 127.0.0.1:\#(redis.port): "#),
            down)
        XCTAssertEqual(try server.request("/health").text, "up")
        try redis.start()
        XCTAssertEqual(try server.request("/down").text, #"{"ok":true}"#)
    }

    /// Waits (up to 10 s) until Redis counts `count` subscribers on each channel.
    private func waitForSubscribers(_ channels: [String], count: Int = 1) throws {
        let want = channels.map { "\($0)\n\(count)" }.joined(separator: "\n")
        let deadline = Date().addingTimeInterval(10)
        while try redis.cli(["PUBSUB", "NUMSUB"] + channels).trimmingCharacters(in: .whitespacesAndNewlines) != want,
            Date() < deadline
        {
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Bodies by channel, filled from several threads.
    private final class Bodies: @unchecked Sendable {
        private let lock = NSLock()
        private var bodies: [String: String] = [:]

        subscript(channel: String) -> String? {
            get {
                lock.lock()
                defer { lock.unlock() }
                return bodies[channel]
            }
            set {
                lock.lock()
                bodies[channel] = newValue
                lock.unlock()
            }
        }
    }

    /// Starts `GET /receive/<channel>` on `port` for each channel, in the
    /// background; the returned function waits for the bodies.
    private func receive(on port: Int, _ channels: [String]) -> () -> Bodies {
        let bodies = Bodies()
        let group = DispatchGroup()
        for channel in channels {
            DispatchQueue.global().async(group: group) {
                bodies[channel] =
                    (try? RawHTTPClient(port: port).request("/receive/\(channel)?timeout=5").text) ?? "failed"
            }
        }
        return {
            _ = group.wait(timeout: .now() + 10)
            return bodies
        }
    }

    func testPubSubCrossesProcessesOnOneSubscriberConnectionEach() throws {
        let (publisher, subscriber) = (try process(workers: 1), try process(workers: 2))
        let bodies = receive(on: subscriber.port, ["news", "news", "raw"])
        try waitForSubscribers(["news", "raw"])
        let subscribers = try redis.cli(["CLIENT", "LIST"]).split(separator: "\n").filter { $0.contains("flags=P") }
        XCTAssertEqual(subscribers.count, 1, "one SUBSCRIBE connection for the process: \(subscribers)")
        XCTAssertEqual(try publisher.request("/publish/news", method: "POST", body: "hello").text, #"{"ok":true}"#)
        XCTAssertEqual(try cli("PUBLISH", "raw", "from redis-cli"), "1")
        let got = bodies()
        XCTAssertEqual(got["news"], #"{"message":"hello"}"#)
        XCTAssertEqual(got["raw"], #"{"message":"from redis-cli"}"#)
    }

    func testPubSubFailsAtTheCallerWhileRedisIsDownThenRecovers() throws {
        let server = try server()
        redis.stop()
        let publish = try server.request("/publish/news", method: "POST", body: "x").text
        XCTAssertTrue(publish.contains("shared_app.lua:127: pubsub.publish: redis 127.0.0.1:\(redis.port): "), publish)
        let subscribe = try server.request("/receive/news?timeout=1")
        XCTAssertEqual(subscribe.status, 500)
        XCTAssertTrue(
            server.log.text.contains("shared_app.lua:121: pubsub.subscribe: redis 127.0.0.1:"), server.log.text)
        try redis.start()
        let bodies = receive(on: server.port, ["news"])
        try waitForSubscribers(["news"])
        XCTAssertEqual(try server.request("/publish/news", method: "POST", body: "back").text, #"{"ok":true}"#)
        XCTAssertEqual(bodies()["news"], #"{"message":"back"}"#)
    }

    func testUnreachableAtStartExitsOne() throws {
        let url = redis.url
        redis.stop()
        let result = try Binary.run([script, "--port", "0", "--shared", url])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(
            result.output.contains("--shared: cannot reach Redis at 127.0.0.1:\(redis.port): connection refused"),
            result.output)
        XCTAssertThrowsError(
            try TestServer(app: MicrodotApp(scriptPath: script), configuration: Configuration(sharedURL: url))
        ) { XCTAssertTrue($0 is SharedStoreError, "\($0)") }
    }

    func testBadURLsAreRefusedByTheFlagsAndByCheck() throws {
        for url in [
            "http://127.0.0.1", "redis://", "redis://h:port", "redis://h:70000", "redis://h/x", "redis://h?db=1",
        ] {
            let serving = try Binary.run([script, "--shared", url])
            XCTAssertNotEqual(serving.status, 0, url)
            XCTAssertTrue(serving.output.contains("--shared must be a URL redis://"), serving.output)
            let checked = try Binary.run(["check", script, "--shared", url])
            XCTAssertEqual(checked.status, 1, url)
            XCTAssertTrue(checked.output.contains("--shared: must be a URL redis://"), checked.output)
        }
        // Syntax only: nothing listens on the port and check still passes.
        redis.stop()
        let good = try Binary.run(["check", script, "--shared", "redis://:pw@127.0.0.1:\(redis.port)/2"])
        XCTAssertEqual(good.status, 0, good.output)
        XCTAssertThrowsError(try Configuration(sharedURL: "redis:/x").validate()) {
            XCTAssertEqual(($0 as? ConfigurationError)?.option, "Configuration.sharedURL")
        }
    }

    func testURLPartsAreRead() throws {
        let url = try RedisURL("REDIS://us%40er:p%3Aw@[::1]:6380/3")
        XCTAssertEqual([url.host, url.user, url.password], ["::1", "us@er", "p:w"])
        XCTAssertEqual([url.port, url.database], [6380, 3])
        let plain = try RedisURL("redis://cache")
        XCTAssertEqual([plain.port, plain.database], [6379, 0])
        XCTAssertNil(plain.user)
    }
}
