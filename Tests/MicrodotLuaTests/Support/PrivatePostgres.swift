import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A PostgreSQL of its own for the tests: Debian's server binaries
/// (/usr/lib/postgresql/N/bin, `scripts/install-deps --test` installs
/// them), a cluster in a temporary folder, on a free loopback port. It
/// refuses to run as root, so as root it runs as the `postgres` user. The
/// database `app` belongs to the role `app` (password `pw`, SCRAM over
/// TCP); the role `pooluser` (password `pw`) is there for counting a
/// pool's connections.
final class PrivatePostgres {
    let port: Int
    let directory: String
    private let bin: String
    private let asUser: String?

    var url: String { "postgres://app:pw@127.0.0.1:\(port)/app" }

    /// Starts it; throws XCTSkip when PostgreSQL is not installed.
    init() throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.compactMap(Int.init).max() else {
            throw XCTSkip("PostgreSQL is not installed (scripts/install-deps --test installs it)")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        asUser = getuid() == 0 ? "postgres" : nil
        var template = Array("/tmp/microdot-pg-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw PrivatePostgres.Failure("mkdtemp failed") }
        directory = String(cString: template)
        port = try Self.freePort()
        if asUser != nil { try Self.run("/bin/chown", ["postgres:postgres", directory]) }
        try run(
            "initdb",
            [
                "-D", directory + "/data", "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                "--no-sync", "-E", "UTF8", "--locale=C",
            ])
        try start()
        try psql("CREATE ROLE app LOGIN PASSWORD 'pw'; CREATE ROLE pooluser LOGIN PASSWORD 'pw'")
        try psql("CREATE DATABASE app OWNER app")
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func start() throws {
        try run(
            "pg_ctl",
            [
                "-D", directory + "/data", "-l", directory + "/log", "-w", "-t", "30", "-o",
                "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off", "start",
            ])
    }

    /// Stops it now (open connections are cut) and starts it again.
    func restart() throws {
        try run("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try start()
    }

    /// Runs SQL as the superuser over the socket; returns psql's output.
    @discardableResult
    func psql(_ sql: String) throws -> String {
        try run("psql", ["-h", directory, "-p", "\(port)", "-U", "postgres", "-d", "postgres", "-tAq", "-c", sql])
    }

    func stop() {
        _ = try? run("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        // From /tmp: the postgres user may not read the current folder.
        let command = ["-C", "/tmp", bin + "/" + tool] + arguments
        if let asUser { return try Self.run("/usr/sbin/runuser", ["-u", asUser, "--", "/usr/bin/env"] + command) }
        return try Self.run("/usr/bin/env", command)
    }

    /// Runs a tool with posix_spawn and waitpid (Foundation's
    /// `waitUntilExit` was seen to hang here); its output goes to a file,
    /// read after it exits.
    @discardableResult
    private static func run(_ path: String, _ arguments: [String]) throws -> String {
        let outputPath = "/tmp/microdot-pg-out-\(getpid())-\(UUID().uuidString)"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure("cannot run \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // Exited (low 7 bits 0) with status 0.
        guard status & 0x7f == 0 && (status >> 8) & 0xff == 0 else {
            throw Failure("\(path) \(arguments.joined(separator: " ")) failed (\(status)): \(text)")
        }
        return text
    }

    /// A port nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw Failure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
