import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Where and how to reach a Redis server: what `redis.connect` checked.
struct RedisEndpoint: Hashable, Sendable {
    var host: String
    var port: Int
    var user: String?
    var password: String?
    var database: Int
    var poolSize: Int
    /// Seconds.
    var connectTimeout: Double
    var timeout: Double

    /// `host:port`, as errors name the server (`[::1]:6379` for IPv6).
    var server: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A worker's connections to one endpoint, on one event loop: at most
/// `poolSize` open (or opening) at once; a caller takes one whole for its
/// call and gives it back, and callers beyond that wait in order. A broken
/// or timed-out connection is dropped, and the next call opens a new one;
/// nothing is retried.
///
/// `@unchecked Sendable`: only touched on `loop` (callers hop there).
final class RedisPool: @unchecked Sendable {
    let endpoint: RedisEndpoint
    let loop: EventLoop
    private var idle: [RedisConnection] = []
    /// Connections open or being opened.
    private(set) var openCount = 0
    private var waiters = CircularBuffer<PoolCall>()
    private var isShutDown = false
    /// `host:port`, as errors name the server: made once, not per call.
    let server: String
    /// The calls under way in the order they started, which is also the
    /// order of their deadlines (one timeout for the pool); done ones leave
    /// from the front. One timer, for the first deadline, instead of a task
    /// scheduled and cancelled for every call.
    private var deadlines = CircularBuffer<PoolCall>()
    private var deadlineTimer: Scheduled<Void>?
    private var sweepingDeadlines = false

    init(endpoint: RedisEndpoint, loop: EventLoop) {
        self.endpoint = endpoint
        self.loop = loop
        server = endpoint.server
    }

    /// One call's progress: done once, by its reply, its failure or its
    /// timeout, whichever comes first.
    private final class PoolCall {
        /// Sent once, then dropped (a done call may wait in `deadlines`).
        var command: ByteBuffer
        let replies: Int
        private var completion: ((Result<[RedisReply], RedisFailure>) -> Void)?
        let deadline: NIODeadline
        var connection: RedisConnection?
        var isDone = false

        init(
            command: ByteBuffer, replies: Int, deadline: NIODeadline,
            completion: @escaping (Result<[RedisReply], RedisFailure>) -> Void
        ) {
            self.command = command
            self.replies = replies
            self.deadline = deadline
            self.completion = completion
        }

        func finish(_ result: Result<[RedisReply], RedisFailure>) {
            guard !isDone, let completion else { return }
            isDone = true
            self.completion = nil
            connection = nil
            completion(result)
        }
    }

    /// Sends `command` (`replies` commands in RESP) on a connection of the
    /// pool; `completion` gets the replies, or why there are none, on `loop`,
    /// within `timeout` seconds (waiting for a connection included).
    func execute(
        _ command: ByteBuffer, replies: Int, completion: @escaping (Result<[RedisReply], RedisFailure>) -> Void
    ) {
        loop.preconditionInEventLoop()
        let call = PoolCall(
            command: command, replies: replies, deadline: .now() + Self.timeAmount(endpoint.timeout),
            completion: completion)
        guard !isShutDown else {
            call.finish(.failure(RedisFailure(description: "the worker's Redis pool is shut down")))
            return
        }
        watchDeadline(of: call)
        while let connection = idle.popLast() {
            if connection.isBroken {
                openCount -= 1
                continue
            }
            run(call, on: connection)
            return
        }
        if openCount < endpoint.poolSize {
            open(for: call)
        } else {
            waiters.append(call)
        }
    }

    private func watchDeadline(of call: PoolCall) {
        while let first = deadlines.first, first.isDone { deadlines.removeFirst() }
        deadlines.append(call)
        if deadlineTimer == nil && !sweepingDeadlines { armDeadlineTimer() }
    }

    /// The timer for the first deadline of a call still under way, if any.
    private func armDeadlineTimer() {
        while let first = deadlines.first, first.isDone { deadlines.removeFirst() }
        guard let first = deadlines.first else {
            deadlineTimer = nil
            return
        }
        deadlineTimer = loop.assumeIsolated().scheduleTask(deadline: first.deadline) { [self] in
            deadlineTimer = nil
            sweepingDeadlines = true
            let now = NIODeadline.now()
            while let call = deadlines.first, call.isDone || call.deadline <= now {
                deadlines.removeFirst()
                timedOut(call)
            }
            sweepingDeadlines = false
            armDeadlineTimer()
        }
    }

    private func timedOut(_ call: PoolCall) {
        guard !call.isDone else { return }
        // The reply may still come: the connection cannot be trusted.
        let connection = call.connection
        call.finish(.failure(RedisFailure(description: "timeout after \(Self.seconds(endpoint.timeout)) s")))
        connection?.close()
        if let index = waiters.firstIndex(where: { $0 === call }) { waiters.remove(at: index) }
    }

    private func run(_ call: PoolCall, on connection: RedisConnection) {
        call.connection = connection
        let command = call.command
        call.command = ByteBuffer()
        connection.send(command, replies: call.replies) { [self] result in
            call.finish(result)
            release(connection)
        }
    }

    /// Opens a connection for `call` (counted now, so the pool never goes
    /// over its size while connections are being opened).
    private func open(for call: PoolCall) {
        openCount += 1
        connect().assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let connection):
                if call.isDone {
                    release(connection)
                } else {
                    run(call, on: connection)
                }
            case .failure(let error):
                openCount -= 1
                call.finish(.failure(error as? RedisFailure ?? RedisFailure(description: Self.describe(error))))
                serveWaiter()
            }
        }
    }

    /// A connection back from a call: to the next waiter, else idle; a
    /// broken one is dropped (a waiter then gets a new one).
    private func release(_ connection: RedisConnection) {
        if connection.isBroken || isShutDown {
            openCount -= 1
            connection.close()
            serveWaiter()
            return
        }
        while let call = waiters.popFirst() {
            if call.isDone { continue }
            run(call, on: connection)
            return
        }
        idle.append(connection)
    }

    private func serveWaiter() {
        while let call = waiters.popFirst() {
            if call.isDone { continue }
            if openCount < endpoint.poolSize { open(for: call) } else { waiters.prepend(call) }
            return
        }
    }

    /// A new connection, authenticated and on its database: AUTH and
    /// SELECT go first, and an error reply to them fails the connection.
    func connect() -> EventLoopFuture<RedisConnection> {
        let handler = RedisConnection()
        let endpoint = endpoint
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(Self.timeAmount(endpoint.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
        let connected: EventLoopFuture<Channel>
        if let address = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: endpoint.host, port: endpoint.port)
        }
        return connected.flatMapError { error in
            if case ChannelError.connectTimeout = error {
                return self.loop.makeFailedFuture(
                    RedisFailure(description: "connect timeout after \(Self.seconds(endpoint.connectTimeout)) s"))
            }
            return self.loop.makeFailedFuture(RedisFailure(description: Self.describe(error)))
        }.flatMap { _ in
            self.setUp(handler)
        }
    }

    private func setUp(_ connection: RedisConnection) -> EventLoopFuture<RedisConnection> {
        var setup = ByteBufferAllocator().buffer(capacity: 64)
        var count = 0
        if let password = endpoint.password {
            RedisCommand.append(endpoint.user.map { ["AUTH", $0, password] } ?? ["AUTH", password], into: &setup)
            count += 1
        }
        if endpoint.database != 0 {
            RedisCommand.append(["SELECT", String(endpoint.database)], into: &setup)
            count += 1
        }
        guard count > 0 else { return loop.makeSucceededFuture(connection) }
        let promise = loop.makePromise(of: RedisConnection.self)
        let timer = loop.scheduleTask(in: Self.timeAmount(endpoint.connectTimeout)) {
            connection.close()
        }
        connection.send(setup, replies: count) { result in
            timer.cancel()
            switch result {
            case .success(let replies):
                if let failed = replies.first(where: { $0.isError }) {
                    connection.close()
                    promise.fail(RedisFailure(description: failed.text ?? "error"))
                } else {
                    promise.succeed(connection)
                }
            case .failure(let failure):
                promise.fail(failure)
            }
        }
        return promise.futureResult
    }

    /// Closes the idle connections now and the others when their call ends.
    func shutDown() {
        isShutDown = true
        for connection in idle { connection.close() }
        openCount -= idle.count
        idle = []
        while let call = waiters.popFirst() {
            call.finish(.failure(RedisFailure(description: "the worker's Redis pool is shut down")))
        }
    }

    // MARK: Messages

    /// An I/O error as errors show it: `connection refused`, else NIO's text.
    static func describe(_ error: Error) -> String {
        if let failure = error as? RedisFailure { return failure.description }
        if let io = error as? IOError { return describe(errno: io.errnoCode, or: "\(io)") }
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first?.error {
            return describe(first)
        }
        return "\(error)"
    }

    private static func describe(errno code: Int32, or fallback: String) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ECONNRESET: return "connection reset"
        case EPIPE: return "connection closed"
        case ETIMEDOUT: return "connection timed out"
        case EHOSTUNREACH, ENETUNREACH: return "host unreachable"
        default: return fallback
        }
    }

    /// Seconds as messages write them: `10`, `0.5`.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    static func timeAmount(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64(min(seconds, 1e9) * 1e9))
    }
}
