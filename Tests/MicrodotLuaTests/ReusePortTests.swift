import XCTest

/// `--reuse-port`: two processes share a port and both answer; without the
/// flag the second fails as before.
final class ReusePortTests: XCTestCase {
    /// A `microdot-lua` serving client_app.lua whose `/instance` answers `name`.
    private final class Instance {
        let process = Process()
        let pipe = Pipe()
        var output = ""

        init(_ name: String, _ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: TestPaths.packageRoot + "/.build/debug/microdot-lua")
            process.arguments = [TestPaths.fixture("ops/client_app.lua")] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(["MICRODOT_INSTANCE": name]) { $1 }
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
        }

        /// The port once it serves; nil when it exits first (the output says why).
        func servingPort() -> Int? {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("Serving on http://") }) {
                    return Int(line.split(separator: ":").last!)
                }
                guard process.isRunning else { break }
                output += String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
            }
            return nil
        }

        /// Waits for it to exit (stopping it when `stop`); returns its status.
        @discardableResult
        func finish(stop: Bool = true) -> Int32 {
            if stop && process.isRunning { process.terminate() }
            output += String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    func testTwoProcessesShareThePortAndBothAnswer() throws {
        let first = try Instance("one", ["--port", "0", "--reuse-port"])
        defer { first.finish() }
        let port = try XCTUnwrap(first.servingPort(), first.output)
        let second = try Instance("two", ["--port", "\(port)", "--reuse-port"])
        defer { second.finish() }
        XCTAssertEqual(second.servingPort(), port, second.output)

        // The kernel spreads connections by their addresses: over 60 new
        // connections, each process gets some (all on one: about 2^-59).
        var counts: [String: Int] = [:]
        for _ in 0..<60 {
            counts[try RawHTTPClient(port: port).request("/instance").text, default: 0] += 1
        }
        XCTAssertEqual(Set(counts.keys), ["one", "two"], "\(counts)")
        XCTAssertEqual(counts.values.reduce(0, +), 60)

        // One stopped, the other goes on serving every connection.
        XCTAssertEqual(first.finish(), 0)
        for _ in 0..<10 {
            XCTAssertEqual(try RawHTTPClient(port: port).request("/instance").text, "two")
        }
    }

    func testWithoutTheFlagASecondProcessFails() throws {
        let first = try Instance("one", ["--port", "0", "--reuse-port"])
        defer { first.finish() }
        let port = try XCTUnwrap(first.servingPort(), first.output)
        // Both must ask for it: a process without the flag is refused.
        let second = try Instance("two", ["--port", "\(port)"])
        XCTAssertEqual(second.finish(stop: false), 1)
        XCTAssertTrue(
            second.output.contains("cannot listen on 127.0.0.1:\(port): the port is in use"), second.output)

        let plain = try Instance("three", ["--port", "0"])
        defer { plain.finish() }
        let plainPort = try XCTUnwrap(plain.servingPort(), plain.output)
        let fourth = try Instance("four", ["--port", "\(plainPort)", "--reuse-port"])
        XCTAssertEqual(fourth.finish(stop: false), 1)
        XCTAssertTrue(fourth.output.contains("the port is in use"), fourth.output)
    }
}
