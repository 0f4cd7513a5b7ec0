import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A private Debian redis-server for one test: on a free loopback port, in
/// a temporary folder, no persistence; stopped (and the folder removed)
/// when the test lets go of it.
final class RedisServer {
    let port: Int
    let folder: String
    private let extraArguments: [String]
    private var process: Process?

    var url: String { "redis://127.0.0.1:\(port)" }

    init(arguments: [String] = []) throws {
        port = try Self.freePort()
        folder = NSTemporaryDirectory() + "microdot-redis-\(getpid())-\(port)"
        extraArguments = arguments
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments =
            [
                "--port", "\(port)", "--bind", "127.0.0.1", "--dir", folder, "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--logfile", folder + "/redis.log", "--enable-debug-command", "local",
                // Blocked clients time out on the server's clock: at the default 10 Hz a
                // BLPOP of 0.1 s lasts up to 0.2 s.
                "--hz", "100",
            ] + extraArguments
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let reply = try? cli(["PING"]), reply.contains("PONG") || reply.contains("NOAUTH") { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        stop()
        throw NSError(
            domain: "RedisServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "redis-server did not start"])
    }

    func stop() {
        guard let process else { return }
        self.process = nil
        process.terminate()
        process.waitUntilExit()
    }

    /// `redis-cli -p PORT args...`'s output (raw, one reply element a line).
    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "--no-auth-warning"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return output
    }

    /// Clients connected now, redis-cli's own connection left out.
    func clientCount(_ auth: [String] = []) throws -> Int {
        try cli(auth + ["CLIENT", "LIST"]).split(separator: "\n").filter { !$0.contains("cmd=client") }.count
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw NSError(domain: "RedisServer", code: 2) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
