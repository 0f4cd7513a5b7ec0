import Logging
import MicrodotLua

/// A response as the test client read it off the bytes the server wrote.
public struct TestResponse: Sendable {
    /// The status code, e.g. 200.
    public let status: Int
    /// The reason phrase of the status line, e.g. "OK".
    public let reason: String
    /// The header fields in the order written, names as the app spelled them.
    public let headers: [(name: String, value: String)]
    /// The body bytes, de-chunked for a streamed response; empty for HEAD.
    public let body: [UInt8]

    /// The first value of a header, whatever its case.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of a header (`Set-Cookie` may come several times).
    public func headers(named name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The body as UTF-8 text (invalid bytes are repaired).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Dispatches requests to an app in process, with no socket: the request
/// runs in a coroutine of a real worker (on its own event loop, so
/// `microdot.sleep` and async Swift functions work) and goes through the
/// same code as a request from the network, down to the bytes of the
/// response, which are parsed back.
public final class MicrodotTestClient: Sendable {
    private let worker: InProcessWorker

    /// `microdot.shared` as the app sees it.
    public var shared: SharedStore { worker.shared }

    private init(worker: InProcessWorker) {
        self.worker = worker
    }

    /// Loads `app` in a worker of its own; `configuration` gives the handler
    /// timeout, memory limit and shared store size. Throws
    /// `ConfigurationError` for a value out of its range, `LuaError` when
    /// the app cannot start. Never blocks a thread of Swift concurrency, so
    /// clients may be made in parallel even when the script's top level
    /// awaits an async Swift function.
    public convenience init(
        app: MicrodotApp, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "microdot-lua")
    ) async throws {
        self.init(worker: try await InProcessWorker.load(app: app, configuration: configuration, logger: logger))
    }

    /// The same for synchronous code: blocks the calling thread until the
    /// app is loaded. Inside a Swift task (an async test, say) it throws
    /// instead, since blocking a thread of the concurrency pool can deadlock
    /// a script whose top level awaits an async Swift function: there, use
    /// `try await MicrodotTestClient(app:)`.
    public convenience init(
        app: MicrodotApp, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "microdot-lua")
    ) throws {
        self.init(
            worker: try InProcessWorker.loadBlocking(
                app: app, configuration: configuration, logger: logger,
                asyncAlternative: "try await MicrodotTestClient(app:)"))
    }

    /// A GET of `path` (with its query string, if any) with extra `headers`.
    /// Throws when the worker fails to produce a response that parses.
    public func get(_ path: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await request("GET", path, headers: headers)
    }

    /// A POST of `body`, with a `Content-Length` added.
    public func post(_ path: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> TestResponse
    {
        try await request("POST", path, headers: headers, body: body)
    }

    /// A JSON body, sent with `Content-Type: application/json`.
    public func post(_ path: String, json: String) async throws -> TestResponse {
        try await request("POST", path, headers: [("Content-Type", "application/json")], body: Array(json.utf8))
    }

    /// A request as a client would send it over HTTP/1.1: a `Host` header is
    /// added when `headers` has none, and `Content-Length` when there is a
    /// body. A body over the app's `Request.max_content_length` gets the 413 a
    /// socket client would get. Throws when the response cannot be parsed.
    public func request(
        _ method: String, _ path: String, headers: [(String, String)] = [],
        body: [UInt8] = []
    ) async throws -> TestResponse {
        let response = try await worker.respond(method, path, headers: headers, body: body)
        return TestResponse(
            status: response.status, reason: response.reason, headers: response.headers, body: response.body)
    }
}
