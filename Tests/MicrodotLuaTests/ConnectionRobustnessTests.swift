import XCTest

@testable import MicrodotLua

#if canImport(Glibc)
    import Glibc
#endif

/// What a client can do to a connection from outside: answers it must not
/// lose (lingering close), memory it must not make the server hold
/// (pipelining without reading), and files and descriptors that must not
/// block or spin a worker.
final class ConnectionRobustnessTests: XCTestCase {
    private static let app = """
        local microdot = require("microdot")
        microdot.Request.max_content_length = 100000
        local app = microdot.Microdot()
        local started = 0
        local big = string.rep("x", 1024 * 1024)
        app:post("/upload", function(req) return "got " .. #req.body end)
        app:put("/upload", function(req) return "got " .. #req.body end)
        app:get("/ok", function(req) return "ok" end)
        app:get("/big", function(req)
          started = started + 1
          return big
        end)
        app:get("/started", function(req) return tostring(started) end)
        app:get("/huge", function(req) return string.rep("y", 16 * 1024 * 1024) end)
        app:get("/file", function(req) return microdot.send_file(req.args.path) end)
        app:get("/swapped", function(req)
          local response = microdot.send_file(req.args.regular)
          response.body.path = req.args.path
          return response
        end)
        return app
        """

    private func server(_ timeouts: Timeouts = Timeouts()) throws -> TestServer {
        try TestServer(
            app: MicrodotApp(source: Self.app, root: TestPaths.fixture("")),
            configuration: Configuration(workers: 1, timeouts: timeouts))
    }

    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "robustness-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func query(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path
    }

    // MARK: Lingering close (an early answer reaches a client still sending)

    /// clients/02: a Content-Length over the limit is answered at once; the
    /// client writes its whole body before it reads.
    func testAnEarly413ReachesAClientThatSendsItsWholeBody() throws {
        let server = try server()
        let body = [UInt8](repeating: 65, count: 2_000_000)
        for _ in 0..<3 {
            let client = try server.client()
            try client.send(
                Array("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 413)
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertTrue(try client.isClosed())
        }
    }

    /// clients/01: `curl -T -`: chunked, no Expect, over the limit.
    func testAnEarly413ReachesAChunkedUploadWithoutExpect() throws {
        let server = try server()
        var chunks: [UInt8] = []
        let chunk = [UInt8](repeating: 66, count: 16384)
        for _ in 0..<128 { chunks += Array("4000\r\n".utf8) + chunk + Array("\r\n".utf8) }
        chunks += Array("0\r\n\r\n".utf8)
        for _ in 0..<3 {
            let client = try server.client()
            try client.send(
                Array("PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + chunks)
            XCTAssertEqual(try client.readResponse().status, 413)
        }
    }

    /// A request that cannot be read, with more coming behind it.
    func testA400ReachesAClientStillSending() throws {
        let server = try server()
        let client = try server.client()
        try client.send(
            Array("GET /ok HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".utf8) + [UInt8](repeating: 67, count: 1_000_000))
        XCTAssertEqual(try client.readResponse().status, 400)
        XCTAssertTrue(try client.isClosed())
    }

    /// A `Connection: close` response with pipelined requests behind it.
    func testAConnectionCloseResponseSurvivesThePipelinedRequestsBehindIt() throws {
        let server = try server()
        let client = try server.client()
        var requests = "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for _ in 0..<20000 { requests += "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n" }
        try client.send(requests)
        let response = try client.readResponse()
        XCTAssertEqual(response.text, "ok")
        XCTAssertTrue(try client.isClosed(), "nothing answered after the close")
    }

    /// Bytes the parser refuses behind a response that closes: an HTTP/1.0
    /// request (nothing may follow it), or a `Connection: close` response
    /// followed by what is not a request. The parser's error comes when the
    /// lingering read starts; the connection must linger all the same.
    func testAClosingResponseSurvivesUnparsableBytesBehindIt() throws {
        let server = try server()
        let more = [UInt8](repeating: 70, count: 4_000_000)
        let heads = [
            "GET /ok HTTP/1.0\r\n\r\n",
            "GET /ok HTTP/1.0\r\n\r\nPOST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(more.count)\r\n\r\n",
            "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ]
        for head in heads {
            let client = try server.client()
            try client.send(Array(head.utf8) + more)
            let response = try client.readResponse()
            XCTAssertEqual(response.text, "ok", head)
            XCTAssertTrue(try client.isClosed(), head)
        }
    }

    /// Lingering ends when the client pauses for `lingeringTimeout`, and
    /// after `lingeringTime` however steadily it sends.
    func testLingeringIsBoundedInTime() throws {
        let server = try server(Timeouts(lingeringTime: 1, lingeringTimeout: 0.3))
        let head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"

        let silent = try server.client()
        try silent.send(head)
        XCTAssertEqual(try silent.readResponse().status, 413)
        XCTAssertTrue(try silent.isClosed(), "the output ends after the response")
        Thread.sleep(forTimeInterval: 0.8)
        XCTAssertTrue(sendFails(silent, within: 1), "closed after a pause of the lingering timeout")

        let steady = try server.client()
        try steady.send(head)
        XCTAssertEqual(try steady.readResponse().status, 413)
        let start = Date()
        var failed = false
        while !failed, Date().timeIntervalSince(start) < 5 {
            failed = (try? steady.send([UInt8](repeating: 68, count: 1000))) == nil
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(failed)
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.8, "it lingered while the client sent")
        XCTAssertLessThan(Date().timeIntervalSince(start), 3, "but no longer than the lingering time")
    }

    /// A connection that the server closed makes sends fail (the first may
    /// be taken before the reset comes back).
    private func sendFails(_ client: RawHTTPClient, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? client.send([UInt8](repeating: 69, count: 100))) == nil { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    // MARK: Memory a client controls

    /// security/03: responses are not made while the client takes none.
    func testAPipeliningClientThatReadsNothingMakesTheServerWait() throws {
        let server = try server()
        let client = try RawHTTPClient(port: server.port, receiveBuffer: 65536)
        var requests = ""
        for _ in 0..<100 { requests += "GET /big HTTP/1.1\r\nHost: x\r\n\r\n" }
        try client.send(requests)
        Thread.sleep(forTimeInterval: 0.5)
        let started = Int(try server.request("/started").text) ?? -1
        XCTAssertGreaterThan(started, 0)
        XCTAssertLessThan(started, 30, "the server waits for the client to take the responses")
        for _ in 0..<100 {
            XCTAssertEqual(try client.readResponse().body.count, 1024 * 1024)
        }
        XCTAssertEqual(try server.request("/started").text, "100")
    }

    // MARK: Files and descriptors

    /// security/04: a FIFO or a device is refused before it is opened; the
    /// worker goes on serving.
    func testFilesThatAreNotRegularAreRefusedWithoutBlocking() throws {
        let server = try server()
        let fifo = directory + "/feed"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let regular = directory + "/regular.txt"
        try "text".write(toFile: regular, atomically: true, encoding: .utf8)
        for path in [fifo, "/dev/zero", directory!] {
            let start = Date()
            XCTAssertEqual(try server.request("/file?path=" + query(path)).status, 500, path)
            XCTAssertLessThan(Date().timeIntervalSince(start), 2, path)
        }
        XCTAssertTrue(server.log.text.contains("Not a regular file"), server.log.text)
        // A path that became a FIFO after send_file looked at it.
        let swapped = try server.request("/swapped?regular=\(query(regular))&path=\(query(fifo))")
        XCTAssertEqual(swapped.status, 500)
        XCTAssertTrue(server.log.text.contains("not a regular file"), server.log.text)
        XCTAssertEqual(try server.request("/ok").text, "ok")
    }

    /// A file that shrinks while it is sent ends the response at once (the
    /// connection closes short of the Content-Length); one that grows is
    /// sent as it was when opened.
    func testAFileThatChangesWhileItIsSentEndsCleanly() throws {
        let server = try server()
        let path = directory + "/changing.bin"
        let size = 8 * 1024 * 1024
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: size)))

        let shrinking = try RawHTTPClient(port: server.port, timeoutSeconds: 5, receiveBuffer: 65536)
        try shrinking.send("GET /file?path=\(query(path)) HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try shrinking.readResponse(method: "HEAD")
        XCTAssertEqual(head.header("Content-Length"), String(size))
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(truncate(path, 1_000_000), 0)
        let start = Date()
        var received = 0
        while let count = try? shrinking.discard(upTo: 65536), count > 0 { received += count }
        XCTAssertLessThan(received, size)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "ended promptly")
        XCTAssertTrue(server.log.text.contains("the file changed while it was sent"), server.log.text)

        XCTAssertEqual(truncate(path, off_t(size)), 0)
        let growing = try RawHTTPClient(port: server.port, timeoutSeconds: 5, receiveBuffer: 65536)
        try growing.send("GET /file?path=\(query(path)) HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try growing.readResponse(method: "HEAD").header("Content-Length"), String(size))
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(truncate(path, off_t(2 * size)), 0)
        var total = 0
        while total < size {
            let count = try growing.discard(upTo: min(65536, size - total))
            XCTAssertGreaterThan(count, 0)
            if count == 0 { break }
            total += count
        }
        XCTAssertEqual(try growing.request("/ok").text, "ok", "the connection goes on after the whole response")
    }

    /// security/06: the write timeout measures time without progress, not
    /// the length of a download (a file, and a large body in memory).
    func testASteadyReaderIsNotCutByTheWriteTimeout() throws {
        let server = try server(Timeouts(write: 0.5))
        let path = directory + "/large.bin"
        let size = 16 * 1024 * 1024
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: size)))
        for target in ["/file?path=\(query(path))", "/huge"] {
            let client = try RawHTTPClient(port: server.port, timeoutSeconds: 5, receiveBuffer: 65536)
            try client.send("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readResponse(method: "HEAD")
            XCTAssertEqual(head.header("Content-Length"), String(size))
            let start = Date()
            var total = 0
            while total < size {
                // About 6 MiB/s: the whole takes several write timeouts.
                Thread.sleep(forTimeInterval: 0.01)
                let count = try client.discard(upTo: min(65536, size - total))
                guard count > 0 else { break }
                total += count
            }
            XCTAssertEqual(total, size, target)
            XCTAssertGreaterThan(Date().timeIntervalSince(start), 1, "longer than the write timeout")
            XCTAssertEqual(try client.request("/ok").text, "ok")
        }
    }

    func testAReaderThatStopsIsCutByTheWriteTimeout() throws {
        let server = try server(Timeouts(write: 0.5))
        let path = directory + "/large.bin"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: 32 * 1024 * 1024)))
        let client = try RawHTTPClient(port: server.port, timeoutSeconds: 5, receiveBuffer: 65536)
        try client.send("GET /file?path=\(query(path)) HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try client.readResponse(method: "HEAD")
        Thread.sleep(forTimeInterval: 2)
        var total = 0
        while let count = try? client.discard(upTo: 65536), count > 0 { total += count }
        XCTAssertLessThan(total, 32 * 1024 * 1024, "closed before the end")
    }

    /// security/17: at the descriptor limit, accepting pauses instead of
    /// spinning; connections are served again once descriptors are free.
    func testAcceptingPausesAtTheDescriptorLimit() throws {
        let server = try server()
        var limit = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit), 0)
        let sockets = (0..<20).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        defer { for fd in sockets { close(fd) } }
        let highest = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { Int($0) }.max()!
        var lowered = limit
        lowered.rlim_cur = rlim_t(highest + 1)
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(server.port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        for fd in sockets {
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.2)
        let before = cpuSeconds()
        Thread.sleep(forTimeInterval: 1)
        let busy = cpuSeconds() - before
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit), 0)
        XCTAssertLessThan(busy, 0.3, "the accept loop does not spin")
        Thread.sleep(forTimeInterval: 0.6)
        XCTAssertEqual(try server.request("/ok").text, "ok")
    }

    private func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
