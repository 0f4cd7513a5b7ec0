import XCTest

@testable import MicrodotLua

/// `microdot.pubsub` (spec section 16) against a real server with several
/// workers (pubsub_app.lua).
final class PubSubTests: XCTestCase {
    private func server(workers: Int = 1) throws -> TestServer {
        try TestServer(
            app: MicrodotApp(scriptPath: TestPaths.fixture("pubsub_app.lua")),
            configuration: Configuration(workers: workers))
    }

    private func json(_ response: RawResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    /// Waits (up to `seconds`) until the server has `count` subscriptions.
    private func waitForSubscriptions(
        _ server: TestServer, _ count: Int, seconds: Double = 5, file: StaticString = #filePath, line: UInt = #line
    ) {
        let deadline = Date().addingTimeInterval(seconds)
        while server.server.pubsubSubscriptions != count, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(server.server.pubsubSubscriptions, count, "subscriptions", file: file, line: line)
    }

    /// Reads `client`'s stream until `text` has come (or 5 s pass).
    private func read(_ client: RawHTTPClient, until text: String, into received: inout String) throws {
        let deadline = Date().addingTimeInterval(5)
        while !received.contains(text), Date() < deadline {
            let bytes = try client.readSome()
            if bytes.isEmpty { break }
            received += String(decoding: bytes, as: UTF8.self)
        }
    }

    private func numbers(in stream: String) -> [Int] {
        // Without the chunk framing's "\r": "\r\n" is one Character, no "\n".
        String(decoding: stream.utf8.filter { $0 != 13 }, as: UTF8.self).split(separator: "\n").compactMap { line in
            line.hasPrefix("data: msg-") ? Int(line.dropFirst("data: msg-".count)) : nil
        }
    }

    func testTwentySSEClientsAcrossFourWorkersGetAHundredMessagesInOrderWithinASecond() throws {
        let server = try server(workers: 4)
        var clients: [RawHTTPClient] = []
        var streams: [String] = []
        var workers = Set<String>()
        for _ in 0..<20 {
            let client = try server.client()
            try client.send("GET /events/news HTTP/1.1\r\nHost: x\r\n\r\n")
            var received = ""
            try read(client, until: "data: worker ", into: &received)
            try read(client, until: "\n\n", into: &received)
            let worker = received.components(separatedBy: "data: worker ").last!.prefix { $0.isNumber }
            workers.insert(String(worker))
            clients.append(client)
            streams.append(received)
        }
        XCTAssertEqual(workers, ["1", "2", "3", "4"], "the clients are spread over the 4 workers")
        waitForSubscriptions(server, 20)

        let started = Date()
        XCTAssertEqual(try server.request("/publish/news/100", method: "POST").text, "published")
        for index in clients.indices {
            try read(clients[index], until: "data: msg-100\n", into: &streams[index])
        }
        let took = Date().timeIntervalSince(started)
        for stream in streams { XCTAssertEqual(numbers(in: stream), Array(1...100)) }
        XCTAssertLessThan(took, 1.0, "100 messages to 20 clients")

        for client in clients { client.close() }
        waitForSubscriptions(server, 0)
    }

    func testASlowSubscriberKeepsTheLastThousandAndCountsTheDropped() throws {
        let server = try server(workers: 2)
        let slow = try server.client()
        try slow.send("GET /slow?s=0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        waitForSubscriptions(server, 1)
        // From another connection, likely another worker.
        XCTAssertEqual(try server.request("/publish/slow/1500", method: "POST").text, "published")
        let result = json(try slow.readResponse())
        XCTAssertEqual(result["count"] as? Int, 1000)
        XCTAssertEqual(result["dropped"] as? Int, 500)
        XCTAssertEqual(result["first"] as? Int, 501, "the oldest were dropped")
        XCTAssertEqual(result["last"] as? Int, 1500)
        XCTAssertEqual(result["in_order"] as? Bool, true)
        waitForSubscriptions(server, 0)
    }

    func testDepartedClientsLeaveNoSubscription() throws {
        let server = try server(workers: 2)
        var clients: [RawHTTPClient] = []
        for _ in 0..<6 {
            let client = try server.client()
            try client.send("GET /events/gone HTTP/1.1\r\nHost: x\r\n\r\n")
            var received = ""
            try read(client, until: "data: worker ", into: &received)
            clients.append(client)
        }
        waitForSubscriptions(server, 6)
        for client in clients { client.close() }
        waitForSubscriptions(server, 0, seconds: 3)
        // A request that subscribes and answers leaves none either.
        XCTAssertEqual(json(try server.request("/receive/quiet?timeout=0.05"))["why"] as? String, "timeout")
        waitForSubscriptions(server, 0)
    }

    func testASubscriptionMadeInATimerLastsUntilClosed() throws {
        let server = try server()
        XCTAssertEqual(try server.request("/kept", method: "POST").text, "ok")
        waitForSubscriptions(server, 1)
        _ = try server.request("/receive/other?timeout=0.05")
        XCTAssertEqual(server.server.pubsubSubscriptions, 1, "no request owns it")
        let closed = json(try server.request("/kept/close", method: "POST"))
        XCTAssertEqual(closed["why"] as? String, "closed")
        XCTAssertNil(closed["message"])
        XCTAssertEqual(server.server.pubsubSubscriptions, 0)
    }

    func testReceiveTimesOut() throws {
        let server = try server()
        let started = Date()
        let result = json(try server.request("/receive/silent?timeout=0.2"))
        let took = Date().timeIntervalSince(started)
        XCTAssertEqual(result["why"] as? String, "timeout")
        XCTAssertGreaterThanOrEqual(took, 0.19)
        XCTAssertLessThan(took, 1)
    }

    func testTablesTravelAsJSON() throws {
        let server = try server(workers: 2)
        let client = try server.client()
        try client.send("GET /receive/json?timeout=5 HTTP/1.1\r\nHost: x\r\n\r\n")
        waitForSubscriptions(server, 1)
        _ = try server.request(
            "/publish-json/json", method: "POST", headers: ["Content-Type": "application/json"],
            body: Array(#"{"n":[1,2]}"#.utf8))
        XCTAssertEqual(json(try client.readResponse())["message"] as? String, #"{"n":[1,2]}"#)
    }

    func testASpawnedCoroutineWaitsOnTheSubscriptionWhileTheRequestGoesOn() throws {
        let server = try server()
        let result = json(try server.request("/two"))
        XCTAssertEqual(result["message"] as? String, #"{"hello":"there"}"#)
        XCTAssertEqual(result["channel"] as? String, "two")
        let refused = json(try server.request("/two-waiters"))
        XCTAssertEqual(refused["ok"] as? Bool, false)
        XCTAssertTrue((refused["err"] as? String ?? "").contains("another coroutine is waiting"), "\(refused)")
        waitForSubscriptions(server, 0)
    }

    func testMistakesNameTheScriptLine() throws {
        let server = try server()
        let cases = [
            "channel": "pubsub_app.lua:86: pubsub.publish: a channel is a string of 1 to 256 bytes, got 257 bytes",
            "big": "pubsub_app.lua:88: pubsub.publish: a message is at most 1048576 bytes, got 1048577",
            "function": "pubsub_app.lua:90: pubsub.publish: ",
            "none": "pubsub_app.lua:92: pubsub.subscribe expects at least one channel",
        ]
        for (what, expected) in cases {
            let result = json(try server.request("/bad/\(what)"))
            XCTAssertEqual(result["ok"] as? Bool, false)
            XCTAssertTrue((result["err"] as? String ?? "").contains(expected), "\(what): \(result)")
        }
    }
}
