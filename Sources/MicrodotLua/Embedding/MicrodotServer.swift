import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves a Lua app: one event loop per worker, each with its own Lua state
/// that has run the script. The `microdot-lua` binary is a thin shell over it.
public final class MicrodotServer: @unchecked Sendable {
    /// The options in force: the configuration, then `app:run{...}`, then defaults.
    public let configuration: Configuration
    /// The port the server listens on (the one picked when asked for port 0).
    public let port: Int
    public let host: String

    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    private let workers: [Worker]
    private let logger: Logger

    private init(configuration: Configuration, group: MultiThreadedEventLoopGroup, channel: Channel,
                 workers: [Worker], logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.channel = channel
        self.workers = workers
        self.logger = logger
        self.host = configuration.host ?? Configuration.defaultHost
        self.port = channel.localAddress?.port ?? 0
    }

    /// Loads the app (a script that does not load throws a `LuaError` naming
    /// file and line) and starts listening.
    public static func start(
        app: MicrodotApp, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "microdot-lua")
    ) throws -> MicrodotServer {
        // The first state is loaded here, before the loops exist, because the
        // script's app:run{} may choose how many there are.
        let first = try Worker(app: app, logger: logger)
        let settings = configuration.filling(from: first.runOptions)
        let workerCount = max(1, settings.workers ?? System.coreCount)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: workerCount)
        let loops = Array(group.makeIterator())
        do {
            var workers = [first]
            for loop in loops.dropFirst() {
                workers.append(try loop.submit { try Worker(app: app, logger: logger) }.wait())
            }
            var byLoop: [ObjectIdentifier: Worker] = [:]
            for (loop, worker) in zip(loops, workers) {
                worker.eventLoop = loop
                worker.debug = settings.debug ?? false
                byLoop[ObjectIdentifier(loop)] = worker
            }
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    let worker = byLoop[ObjectIdentifier(channel.eventLoop)]!
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(HTTPRequestDecoder(
                                leftOverBytesStrategy: .dropBytes, limitConfiguration: worker.limits.decoderLimits)))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionHandler(worker: worker))
                    }
                }
            let channel = try bootstrap.bind(
                host: settings.host ?? Configuration.defaultHost,
                port: settings.port ?? Configuration.defaultPort
            ).wait()
            let server = MicrodotServer(configuration: settings, group: group, channel: channel,
                                        workers: workers, logger: logger)
            for worker in workers {
                worker.onShutdown = { [weak server] in server?.beginShutdown() }
            }
            return server
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// Blocks until the server has shut down.
    public func wait() throws {
        try channel.closeFuture.wait()
        try group.syncShutdownGracefully()
    }

    /// Stops accepting connections; `wait()` then returns.
    public func shutdown() {
        beginShutdown()
    }

    private func beginShutdown() {
        channel.close(promise: nil)
    }
}
