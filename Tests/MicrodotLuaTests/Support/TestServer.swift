import Logging
import XCTest

@testable import MicrodotLua

/// Paths of the package, found from this file's location.
enum TestPaths {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()
    static func example(_ name: String) -> String { packageRoot + "/examples/" + name }
    static func fixture(_ name: String) -> String { packageRoot + "/Tests/MicrodotLuaTests/Fixtures/" + name }
}

/// Collects what the server logs, so tests can check errors were logged.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return lines.joined(separator: "\n")
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let fields = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let shown =
                fields.isEmpty
                ? "" : " [" + fields.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ") + "]"
            capture.append("\(event.level): \(event.message)\(shown)")
        }
    }

    var logger: Logger { Logger(label: "test") { _ in Handler(capture: self) } }
}

/// A real server on 127.0.0.1, port 0, for one test.
final class TestServer: Sendable {
    let server: MicrodotServer
    let log: LogCapture
    var port: Int { server.port }

    init(app: MicrodotApp, workers: Int = 1, debug: Bool = false, log: LogCapture = LogCapture()) throws {
        self.log = log
        server = try MicrodotServer.start(
            app: app,
            configuration: Configuration(host: "127.0.0.1", port: 0, workers: workers, debug: debug ? true : nil),
            logger: log.logger)
    }

    /// Loopback and port 0 whatever `configuration` says.
    init(app: MicrodotApp, configuration: Configuration) throws {
        log = LogCapture()
        var configuration = configuration
        configuration.host = "127.0.0.1"
        configuration.port = 0
        server = try MicrodotServer.start(app: app, configuration: configuration, logger: log.logger)
    }

    convenience init(script path: String, workers: Int = 1) throws {
        try self.init(app: MicrodotApp(scriptPath: path), workers: workers)
    }

    convenience init(source: String) throws {
        try self.init(app: MicrodotApp(source: source, root: TestPaths.fixture("")))
    }

    func client() throws -> RawHTTPClient { try RawHTTPClient(port: port) }

    /// One request on a new connection.
    func request(
        _ target: String, method: String = "GET", headers: [String: String] = [:],
        body: [UInt8] = []
    ) throws -> RawResponse {
        try client().request(target, method: method, headers: headers, body: body)
    }

    deinit {
        server.shutdown()
        try? server.wait()
    }
}
