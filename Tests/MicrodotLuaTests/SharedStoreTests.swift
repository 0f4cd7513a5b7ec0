import XCTest

@testable import MicrodotLua

/// `microdot.shared`'s store: byte keys, tables, add/replace, and the size
/// cap with least-recently-used eviction (issue 12, security cases 09 and 11).
final class SharedStoreTests: XCTestCase {
    func testKeysAreBytesNotUnicodeText() throws {
        let store = SharedStore()
        try store.set("caf\u{e9}", "nfc")
        XCTAssertNil(store.get("cafe\u{301}"), "canonically equivalent text is another key")
        try store.set([0xFF], "ff")
        XCTAssertNil(store.get([0xFE]))
        XCTAssertNil(store.get(Array("\u{FFFD}".utf8)), "invalid UTF-8 is not repaired")
        XCTAssertEqual(store.get([0xFF]), "ff")
        XCTAssertEqual(Set(store.keys(limit: 0)), [Array("caf\u{e9}".utf8), [0xFF]])
    }

    func testTablesAreStoredAndFunctionsRefused() throws {
        let store = SharedStore()
        try store.set("t", ["list": [1, 2], "name": "x"])
        XCTAssertEqual(store.get("t"), ["list": [1, 2], "name": "x"])
    }

    func testAddAndReplace() throws {
        let store = SharedStore()
        XCTAssertThrowsError(try store.replace(Array("k".utf8), 1)) {
            XCTAssertEqual($0 as? SharedStore.WriteError, .notFound)
        }
        try store.add(Array("k".utf8), 1)
        XCTAssertThrowsError(try store.add(Array("k".utf8), 2)) {
            XCTAssertEqual($0 as? SharedStore.WriteError, .exists)
        }
        try store.replace(Array("k".utf8), 3)
        XCTAssertEqual(store.get("k"), 3)
        try store.set("short", 1, ttl: 0.05)
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertNoThrow(try store.add(Array("short".utf8), 2), "an expired key can be added")
    }

    func testSetEvictsTheLeastRecentlyUsedAndSaysSo() throws {
        let value = LuaValue.string(Array(repeating: 0x78, count: 1000))
        let entry = 1 + SharedStore.size(of: value)! + SharedStore.entryOverhead
        let store = SharedStore(capacity: entry * 3)
        XCTAssertFalse(try store.set("a", value))
        XCTAssertFalse(try store.set("b", value))
        XCTAssertFalse(try store.set("c", value))
        XCTAssertEqual(store.freeSpace, 0)
        XCTAssertNotNil(store.get("a"), "a is now the most recently used")
        XCTAssertTrue(try store.set("d", value), "forcible: a live key was evicted")
        XCTAssertNil(store.get("b"), "b was the least recently used")
        XCTAssertNotNil(store.get("a"))
        XCTAssertNotNil(store.get("c"))
        XCTAssertNotNil(store.get("d"))
        XCTAssertEqual(store.keys(limit: 0).map { String(decoding: $0, as: UTF8.self) }, ["d", "c", "a"])
    }

    func testExpiredKeysGoBeforeLiveOnes() throws {
        let value = LuaValue.string(Array(repeating: 0x78, count: 1000))
        let entry = 1 + SharedStore.size(of: value)! + SharedStore.entryOverhead
        let store = SharedStore(capacity: entry * 2)
        try store.set("o", value)
        try store.set("g", value, ttl: 0.05)
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertFalse(try store.set("n", value), "only an expired key made room")
        XCTAssertNotNil(store.get("o"))
    }

    /// A full store of live keys evicts at its LRU end without looking at
    /// every entry: 20,000 writes into 100,000 keys take far less than the
    /// scan of each (2e9 steps) would.
    func testWritesIntoAFullStoreDoNotScanIt() throws {
        let value = LuaValue.integer(1)
        let entry = 8 + SharedStore.size(of: value)! + SharedStore.entryOverhead
        let store = SharedStore(capacity: entry * 100_000)
        for index in 0..<100_000 { try store.set(String(format: "k%07d", index), value) }
        let start = clock()
        var evicted = 0
        for index in 0..<20_000 where try store.set(String(format: "n%07d", index), value) { evicted += 1 }
        let seconds = Double(clock() - start) / Double(CLOCKS_PER_SEC)
        XCTAssertEqual(evicted, 20_000, "each write evicted a live key")
        XCTAssertLessThan(seconds, 5, "CPU seconds for 20,000 writes")
        XCTAssertNil(store.get("k0000000"), "the least recently used went")
        XCTAssertNotNil(store.get("k0099999"))
    }

    func testAValueBiggerThanTheStoreIsRefused() throws {
        let store = SharedStore(capacity: 1000)
        try store.set("kept", 1)
        XCTAssertThrowsError(try store.set("big", .string(Array(repeating: 0, count: 1000)))) {
            XCTAssertEqual($0 as? SharedStore.WriteError, .noMemory)
        }
        XCTAssertEqual(store.get("kept"), 1, "nothing was evicted for it")
    }

    func testManyKeysStayWithinTheCapacity() throws {
        let store = SharedStore(capacity: 100_000)
        for index in 0..<10_000 {
            try store.set("key\(index)", .string(Array(repeating: 1, count: index % 100)))
            XCTAssertGreaterThanOrEqual(store.freeSpace, 0)
        }
        XCTAssertEqual(store.get("key9999"), .string(Array(repeating: 1, count: 99)))
        XCTAssertNil(store.get("key0"))
        XCTAssertLessThan(store.keys(limit: 0).count, 10_000)
    }

    // MARK: Through a server

    func testTheSharedSizeOptionCapsTheServersStore() throws {
        let server = try MicrodotServer.start(
            app: MicrodotApp(
                source: """
                    local microdot = require("microdot")
                    local app = microdot.Microdot()
                    app:post("/<k>", function(req, k)
                      local ok, err, forcible = microdot.shared:set(k, req.body)
                      return tostring(ok) .. " " .. tostring(err) .. " " .. tostring(forcible)
                    end)
                    return app
                    """),
            configuration: Configuration(host: "127.0.0.1", port: 0, sharedSize: 4096))
        defer {
            server.shutdown()
            try? server.wait()
        }
        XCTAssertEqual(server.shared.capacity, 4096)
        let client = try RawHTTPClient(port: server.port)
        let body = Array(repeating: UInt8(ascii: "x"), count: 1500)
        XCTAssertEqual(try client.request("/a", method: "POST", body: body).text, "true nil false")
        XCTAssertEqual(try client.request("/b", method: "POST", body: body).text, "true nil false")
        XCTAssertEqual(try client.request("/c", method: "POST", body: body).text, "true nil true")
        let huge = Array(repeating: UInt8(ascii: "x"), count: 5000)
        XCTAssertEqual(
            try client.request("/d", method: "POST", body: huge).text,
            "false no memory false")
    }
}
