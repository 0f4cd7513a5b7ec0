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

    /// Loads `app`; `configuration` gives the handler timeout and memory
    /// limit. Throws `LuaError` when the app cannot start.
    package init(app: MicrodotApp, configuration: Configuration, logger: Logger) throws {
        let luaLimits = configuration.luaLimits
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let shared = SharedStore()
        self.shared = shared
        let eventLoop = group.next()
        do {
            let worker = try eventLoop.submit {
                try Worker(app: app, logger: logger, shared: shared, luaLimits: luaLimits)
            }.wait()
            loop = WorkerLoop(eventLoop: eventLoop, worker: worker)
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    deinit {
        try? group.syncShutdownGracefully()
    }

    /// Runs one request as a client would send it over HTTP/1.1: a `Host`
    /// header is added when `headers` has none, and `Content-Length` when
    /// there is a body; a body over the app's `Request.max_content_length`
    /// gets the 413 a socket client would get. Throws
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
