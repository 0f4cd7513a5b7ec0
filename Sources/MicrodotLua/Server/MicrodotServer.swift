import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// The server could not listen on `host:port`: its description says why
/// and what to do (the port is in use, the address is not this machine's...).
public struct ListenError: Error, CustomStringConvertible {
    /// The address asked for.
    public let host: String
    /// The port asked for.
    public let port: Int
    /// NIO's error.
    public let underlying: any Error

    /// One line naming the address, the reason and a way out.
    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        if let error = underlying as? IOError {
            switch error.errnoCode {
            case EADDRINUSE:
                return "cannot listen on \(address): the port is in use (is another server running?); "
                    + "stop it, or choose another port with --port (0 picks a free one); "
                    + "processes that all start with --reuse-port share a port"
            case EACCES:
                return "cannot listen on \(address): permission denied (ports below 1024 need root); "
                    + "choose a port above 1023 with --port"
            case EADDRNOTAVAIL:
                return "cannot listen on \(address): the address is not one of this machine's; "
                    + "use --host 127.0.0.1, or 0.0.0.0 for every interface"
            default:
                break
            }
        }
        return "cannot listen on \(address): \(underlying); check --host and --port"
    }
}

/// Serves a Lua app: one event loop per worker, each with its own Lua state
/// that has run the script. The `microdot-lua` binary is a thin shell over it.
public final class MicrodotServer: @unchecked Sendable {
    /// The options in force: the configuration, then `app:run{...}`, then defaults.
    public let configuration: Configuration
    /// The port the server listens on (the one picked when asked for port 0).
    public let port: Int
    /// The address the server listens on, as configured.
    public let host: String
    /// `microdot.shared`, readable and writable from Swift too.
    public let shared: SharedStore
    /// `microdot.pubsub` subscriptions open in every worker now (the
    /// `pubsub_subscriptions` gauge of section 21's `/metrics`): a request's
    /// close when it ends, the client leaving included.
    public var pubsubSubscriptions: Int { pubsub.subscriptions }
    private let pubsub: PubSubHub
    /// The port the `--metrics` listener took (nil without it).
    public var metricsPort: Int? { metricsChannel?.localAddress?.port }
    private let observability: Observability?
    private var metricsChannel: Channel?

    private let app: MicrodotApp
    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    private let loops: [WorkerLoop]
    private let logger: Logger
    private let stopped = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)
    private let finished = NIOLockedValueBox(false)
    private var reloader: Reloader?

    private init(
        app: MicrodotApp, configuration: Configuration, group: MultiThreadedEventLoopGroup,
        channel: Channel, loops: [WorkerLoop], shared: SharedStore, pubsub: PubSubHub, logger: Logger,
        observability: Observability?
    ) {
        self.pubsub = pubsub
        self.observability = observability
        self.app = app
        self.configuration = configuration
        self.group = group
        self.channel = channel
        self.loops = loops
        self.shared = shared
        self.logger = logger
        self.host = configuration.host ?? Configuration.defaultHost
        self.port = channel.localAddress?.port ?? 0
    }

    /// Loads the app in every worker and starts listening. Throws
    /// `ConfigurationError` for a configuration value out of its range
    /// (checked first), `LuaError` when the app cannot start (a script error,
    /// or a bad `app:run{...}` option, names file and line), or
    /// `ListenError` when the address (or the metrics') cannot be bound,
    /// `TLSError` when the TLS certificate or key cannot be used,
    /// `AccessLogError` when the access log cannot be opened, or
    /// `SharedStoreError` when the `sharedURL` server does not answer.
    public static func start(
        app: MicrodotApp, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "microdot-lua")
    ) throws -> MicrodotServer {
        try configuration.validate()
        let shared = SharedStore(capacity: configuration.sharedSize ?? SharedStore.defaultCapacity)
        // --shared: Redis must answer before anything loads (exit 1 if not).
        let remote = try configuration.sharedURL.map { try SharedStoreError.reach($0) }
        let pubsub = PubSubHub(backend: remote.map { RedisPubSub(endpoint: $0) } ?? LocalPubSub(), remote: remote)
        var firstLogger = logger
        if configuration.debug == true { firstLogger.showDebug() }
        // The first state is loaded here, before the loops exist, because the
        // script's app:run{} may choose how many there are.
        let luaLimits = configuration.luaLimits
        let first = try Worker(
            app: app, logger: firstLogger, shared: shared, index: 1, luaLimits: luaLimits, pubsub: pubsub)
        let settings = configuration.filling(from: first.runOptions)
        if settings.debug == true { first.logger.showDebug() }
        let logger = first.logger
        let workerCount = settings.workerCount
        // Loaded once, before any loop starts: a bad file stops start-up.
        let tls = try settings.tlsCertificatePath.flatMap { certificate in
            try settings.tlsKeyPath.map { key throws(TLSError) in
                try TLSFiles.context(certificate: certificate, key: key)
            }
        }
        let metricsAddress = try settings.metrics.map { text throws(ConfigurationError) in
            try settings.checkMetrics(text, from: .swift)
        }
        let observability = try Observability.make(settings, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: workerCount)
        do {
            var loops: [WorkerLoop] = []
            for (offset, eventLoop) in group.makeIterator().enumerated() {
                let worker =
                    offset == 0
                    ? first
                    : try eventLoop.submit {
                        try Worker(
                            app: app, logger: logger, shared: shared, index: offset + 1, luaLimits: luaLimits,
                            pubsub: pubsub)
                    }.wait()
                loops.append(WorkerLoop(eventLoop: eventLoop, worker: worker, timeouts: settings.timeouts))
            }
            let byLoop = Dictionary(uniqueKeysWithValues: loops.map { (ObjectIdentifier($0.eventLoop), $0) })
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(Self.reusePortOption, value: settings.reusePort == true ? 1 : 0)
                .serverChannelInitializer { channel in
                    // At the descriptor limit (EMFILE, ENFILE) accepting
                    // pauses for a while instead of spinning on the socket.
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AcceptPause())
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.writeBufferWaterMark, value: Self.writeBufferWaterMark)
                .childChannelInitializer { channel in
                    let loop = byLoop[ObjectIdentifier(channel.eventLoop)]!
                    return channel.eventLoop.makeCompletedFuture {
                        // First: everything after it sees plaintext. A client
                        // speaking plain HTTP fails the handshake and is closed.
                        if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                        // HTTP/1.2 and the like are read as 1.1 (RFC 9110 2.5).
                        // Only a WebSocket upgrade removes the parser: what the
                        // client sent after its request goes to the frame decoder.
                        let parser = HTTPRequestDecoder(
                            leftOverBytesStrategy: .forwardBytes, limitConfiguration: loop.worker.limits.decoderLimits)
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(MinorVersionRequestDecoder(parser)))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionHandler(loop: loop))
                    }
                }
            let host = settings.host ?? Configuration.defaultHost
            let port = settings.port ?? Configuration.defaultPort
            let channel: Channel
            do {
                channel = try bootstrap.bind(host: host, port: port).wait()
            } catch {
                throw ListenError(host: host, port: port, underlying: error)
            }
            let server = MicrodotServer(
                app: app, configuration: settings, group: group, channel: channel,
                loops: loops, shared: shared, pubsub: pubsub, logger: logger, observability: observability)
            if let metricsAddress, let metrics = observability?.metrics {
                let loops = loops
                do {
                    server.metricsChannel = try MetricsListener.bind(
                        host: metricsAddress.host, port: metricsAddress.port, group: group
                    ) { [pubsub] eventLoop in
                        metrics.scrape(loops: loops, subscriptions: pubsub.subscriptions, on: eventLoop)
                    }
                } catch {
                    channel.close(promise: nil)
                    throw ListenError(host: metricsAddress.host, port: metricsAddress.port, underlying: error)
                }
            }
            for loop in loops {
                server.configure(loop.worker)
                loop.eventLoop.execute {
                    loop.startTimeoutSweep()
                    loop.worker.background.startServing()
                }
            }
            if settings.reload == true { server.startReloading() }
            OutboundHTTP.serverStarted()
            return server
        } catch {
            try? group.syncShutdownGracefully()
            observability?.accessLog?.close()
            throw error
        }
    }

    private func configure(_ worker: Worker) {
        worker.debug = configuration.debug ?? false
        worker.reload = configuration.reload ?? false
        worker.onShutdown = { [weak self] in self?.shutdown() }
        worker.trustedProxies = configuration.trustedNetworks
        worker.sendsFilesThroughBuffers = configuration.servesTLS
        worker.gzip = configuration.gzip ?? false
        worker.observer = observability.map(WorkerObserver.init)
    }

    /// When a connection stops taking more (`isWritable`): past 256 KiB
    /// waiting to be written, again below 64 KiB. NIO's default (64 KiB)
    /// flips writability twice for every 64 KiB file or body, and each flip
    /// runs the write deadline and dispatch code (about 6k instructions per
    /// response); a client that stops reading still makes the channel
    /// unwritable, which starts the write timeout (`ConnectionDeadlines`).
    /// A stream generator runs at most this far ahead of its client.
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 * 1024, high: 256 * 1024)

    /// `SO_REUSEPORT`, which NIO has no name for.
    private static let reusePortOption = ChannelOptions.Types.SocketOption(
        level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT))

    /// Blocks until the server has shut down: after `shutdown()`, a signal
    /// the binary handles, or `app:shutdown()` in Lua.
    public func wait() throws {
        // Futures of a group that is shut down never call back: a second
        // wait() must not touch them.
        if finished.withLockedValue({ $0 }) { return }
        try channel.closeFuture.wait()
        try stop().wait()
        let first = finished.withLockedValue { finished -> Bool in
            defer { finished = true }
            return !finished
        }
        if first {
            observability?.accessLog?.close()
            for loop in loops { loop.worker.postgres?.close() }
            OutboundHTTP.serverStopped()
            try group.syncShutdownGracefully()
        }
    }

    /// Returns once the server has shut down, as `wait()` does, without
    /// blocking a thread: for async code (`run()` builds on it).
    public func waitUntilStopped() async throws {
        if finished.withLockedValue({ $0 }) { return }
        try await channel.closeFuture.get()
        try await stop().get()
        let first = finished.withLockedValue { finished -> Bool in
            defer { finished = true }
            return !finished
        }
        if first {
            observability?.accessLog?.close()
            try await group.shutdownGracefully()
        }
    }

    /// Stops accepting connections, lets the requests under way finish (for
    /// up to `shutdownTimeout` seconds) and closes the rest; `wait()` returns
    /// once it is done.
    public func shutdown() {
        _ = stop()
    }

    private func stop() -> EventLoopFuture<Void> {
        stopped.withLockedValue { stopped in
            if let stopped { return stopped }
            reloader?.stop()
            channel.close(promise: nil)
            metricsChannel?.close(promise: nil)
            let loops = self.loops
            let drained = loops.map { loop in loop.eventLoop.flatSubmit { loop.drain() } }
            let all = EventLoopFuture.andAllComplete(drained, on: group.next())
            let grace = configuration.shutdownTimeout ?? Configuration.defaultShutdownTimeout
            logger.info("shutting down: requests in progress have \(grace) s to finish (--shutdown-timeout)")
            let logger = self.logger
            let deadline = group.next().scheduleTask(in: .nanoseconds(Int64(max(0, grace) * 1e9))) {
                logger.warning(
                    "shutdown: \(grace) s passed; closing the connections still busy (long streams such as SSE)")
                for loop in loops { loop.eventLoop.execute { loop.closeAll() } }
            }
            all.whenComplete { _ in deadline.cancel() }
            stopped = all
            return all
        }
    }

    // MARK: Reloading

    private func startReloading() {
        guard case .file = app.source else {
            logger.warning("--reload watches script files; this app was given as a string")
            return
        }
        reloader = Reloader(root: app.root, script: app.scriptFile!, logger: logger) { [weak self] in
            self?.reloadWorkers()
        }
    }

    /// Loads the script again in every worker; a worker keeps its old state
    /// when the new one does not load.
    private func reloadWorkers() {
        for (offset, loop) in loops.enumerated() {
            loop.eventLoop.execute { [self] in
                do {
                    let worker = try Worker(
                        app: app, logger: logger, shared: shared, index: offset + 1,
                        luaLimits: configuration.luaLimits, pubsub: pubsub)
                    configure(worker)
                    loop.replace(
                        with: worker, grace: configuration.shutdownTimeout ?? Configuration.defaultShutdownTimeout)
                    if offset == 0 { logger.info("reloaded \(app.chunkName.dropFirst())") }
                } catch {
                    if offset == 0 { logger.error("reload failed, still serving the previous code: \(error)") }
                }
            }
        }
    }
}

/// On the listening socket: at the descriptor limit (EMFILE, ENFILE) or out
/// of buffers, accepting pauses for half a second, as nginx does, instead of
/// failing `accept4` in a tight loop at 100% CPU for as long as the limit
/// holds. NIO's `AcceptBackoffHandler` holds back the next read, but the
/// channel stays registered for readability after a failed accept, so its
/// poller keeps waking; turning `autoRead` off unregisters it.
final class AcceptPause: ChannelInboundHandler {
    typealias InboundIn = Channel

    /// How long accepting pauses.
    static let pause = TimeAmount.milliseconds(500)
    private var paused = false

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let error = error as? IOError, Self.isResourceShortage(error.errnoCode) else {
            context.fireErrorCaught(error)
            return
        }
        guard !paused else { return }
        paused = true
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        let channel = context.channel
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) { [self] in
            paused = false
            try? channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    static func isResourceShortage(_ code: CInt) -> Bool {
        code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM
    }
}

extension Logger {
    /// `debug`: `microdot.log.debug` records show (a lower level is kept).
    fileprivate mutating func showDebug() {
        if logLevel > .debug { logLevel = .debug }
    }
}
