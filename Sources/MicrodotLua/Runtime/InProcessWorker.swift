import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A worker of its own, on an event loop of its own, that serves requests
/// handed to it in process: no socket, but the same `RequestTask` as a
/// request from the network, down to the bytes of the response, which are
/// parsed back. What `MicrodotTestClient` (the MicrodotLuaTesting product)
/// is built on.
package final class InProcessWorker: @unchecked Sendable {
    // Sendable: `loop` is only touched on its event loop (through
    // `flatSubmit`); the rest is immutable.

    /// `microdot.shared` as the app sees it.
    package let shared: SharedStore
    private let group: MultiThreadedEventLoopGroup
    private let loop: WorkerLoop

    private init(group: MultiThreadedEventLoopGroup, shared: SharedStore, loop: WorkerLoop) {
        self.group = group
        self.shared = shared
        self.loop = loop
    }

    /// Loads `app`; `configuration` gives the handler timeout, memory limit
    /// and shared store size. Throws `LuaError` when the app cannot start.
    /// Suspends rather than blocks, so a script whose top level awaits an
    /// async Swift function can use the thread this was called from.
    package static func load(
        app: MicrodotApp, configuration: Configuration, logger: Logger
    ) async throws -> InProcessWorker {
        let (group, shared, eventLoop) = try start(configuration)
        do {
            let worker = try await eventLoop.submit {
                try Worker(app: app, logger: logger, shared: shared, luaLimits: configuration.luaLimits)
                    .trusting(configuration)
            }.get()
            return InProcessWorker(group: group, shared: shared, loop: WorkerLoop(eventLoop: eventLoop, worker: worker))
        } catch {
            group.shutdownGracefully { _ in }
            throw error
        }
    }

    /// The same for synchronous code: blocks the calling thread until the
    /// app is loaded. Inside a Swift task it throws instead, since blocking
    /// a thread of the concurrency pool can deadlock a script whose top
    /// level awaits an async Swift function.
    package static func loadBlocking(
        app: MicrodotApp, configuration: Configuration, logger: Logger, asyncAlternative: String
    ) throws -> InProcessWorker {
        if withUnsafeCurrentTask(body: { $0 != nil }) {
            throw LuaError(
                message: "this would block a thread of Swift concurrency; in async code write \(asyncAlternative)")
        }
        let (group, shared, eventLoop) = try start(configuration)
        do {
            let worker = try eventLoop.submit {
                try Worker(app: app, logger: logger, shared: shared, luaLimits: configuration.luaLimits)
                    .trusting(configuration)
            }.wait()
            return InProcessWorker(group: group, shared: shared, loop: WorkerLoop(eventLoop: eventLoop, worker: worker))
        } catch {
            group.shutdownGracefully { _ in }
            throw error
        }
    }

    private static func start(
        _ configuration: Configuration
    ) throws -> (MultiThreadedEventLoopGroup, SharedStore, any EventLoop) {
        try configuration.validate()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let shared = SharedStore(capacity: configuration.sharedSize ?? SharedStore.defaultCapacity)
        return (group, shared, group.next())
    }

    deinit {
        // Not syncShutdownGracefully: the last reference may go on a thread
        // of Swift concurrency, which must not block.
        group.shutdownGracefully { _ in }
    }

    /// Runs one request as a client would send it over HTTP/1.1: a `Host`
    /// header is added when `headers` has none, and `Content-Length` when
    /// there is a body; a body over the app's `Request.max_content_length`
    /// gets the 413 a socket client would get, and one over its
    /// `max_body_length` streams to the route (`req.stream`). Throws
    /// `ResponseParser.Malformed` when the bytes written do not parse.
    package func respond(
        _ method: String, _ path: String, headers: [(String, String)], body: [UInt8]
    ) async throws -> ParsedResponse {
        let loop = self.loop
        let bytes = try await loop.eventLoop.flatSubmit { () -> EventLoopFuture<[UInt8]> in
            var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
            head.headers.add(contentsOf: headers)
            if !head.headers.contains(name: "host") { head.headers.add(name: "Host", value: "localhost") }
            if !body.isEmpty { head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count)) }
            let request = ReceivedRequest.inProcess(
                head: head, parts: body.isEmpty ? [] : [ByteBuffer(bytes: body)], limits: loop.worker.limits)
            let finished = loop.eventLoop.makePromise(of: [UInt8].self)
            let sink = CollectingSink { bytes, _ in finished.succeed(bytes) }
            RequestTask(worker: loop.worker, sink: sink, request: request).start()
            return finished.futureResult
        }.get()
        return try ResponseParser.parse(bytes, method: method)
    }
}
