import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

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
public final class MicrodotTestClient: @unchecked Sendable {
    /// `microdot.shared` as the app sees it.
    public let shared: SharedStore
    private let group: MultiThreadedEventLoopGroup
    private let loop: WorkerLoop

    /// Loads `app` in a worker of its own; `configuration` gives the handler
    /// timeout, memory limit and shared store size. Throws `LuaError` when
    /// the app cannot start. Never blocks a thread of Swift concurrency, so
    /// clients may be made in parallel even when the script's top level
    /// awaits an async Swift function.
    public convenience init(
        app: MicrodotApp, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "microdot-lua")
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let shared = SharedStore(capacity: configuration.sharedSize ?? SharedStore.defaultCapacity)
        let eventLoop = group.next()
        do {
            let worker = try await eventLoop.submit {
                try Worker(app: app, logger: logger, shared: shared, luaLimits: configuration.luaLimits)
            }.get()
            self.init(group: group, shared: shared, loop: WorkerLoop(eventLoop: eventLoop, worker: worker))
        } catch {
            group.shutdownGracefully { _ in }
            throw error
        }
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
        if withUnsafeCurrentTask(body: { $0 != nil }) {
            throw LuaError(
                message:
                    "MicrodotTestClient(app:) would block a thread of Swift concurrency; "
                    + "in async code write try await MicrodotTestClient(app:)")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let shared = SharedStore(capacity: configuration.sharedSize ?? SharedStore.defaultCapacity)
        let eventLoop = group.next()
        do {
            let worker = try eventLoop.submit {
                try Worker(app: app, logger: logger, shared: shared, luaLimits: configuration.luaLimits)
            }.wait()
            self.init(group: group, shared: shared, loop: WorkerLoop(eventLoop: eventLoop, worker: worker))
        } catch {
            group.shutdownGracefully { _ in }
            throw error
        }
    }

    private init(group: MultiThreadedEventLoopGroup, shared: SharedStore, loop: WorkerLoop) {
        self.group = group
        self.shared = shared
        self.loop = loop
    }

    deinit {
        // Not syncShutdownGracefully: the last reference may go on a thread
        // of Swift concurrency, which must not block.
        group.shutdownGracefully { _ in }
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
        let loop = self.loop
        let bytes = try await loop.eventLoop.flatSubmit { () -> EventLoopFuture<[UInt8]> in
            var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
            head.headers.add(contentsOf: headers)
            if !head.headers.contains(name: "host") { head.headers.add(name: "Host", value: "localhost") }
            if !body.isEmpty { head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count)) }
            var request = ReceivedRequest(head: head)
            if body.count > loop.worker.limits.bodyLimit {
                request.bodyTooLarge = true
            } else if !body.isEmpty {
                request.body = ByteBuffer(bytes: body)
            }
            let finished = loop.eventLoop.makePromise(of: [UInt8].self)
            let sink = CollectingSink { bytes, _ in finished.succeed(bytes) }
            RequestTask(worker: loop.worker, sink: sink, request: request).start()
            return finished.futureResult
        }.get()
        return try ResponseParser.parse(bytes, method: method)
    }
}
