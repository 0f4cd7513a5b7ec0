import NIOCore

/// How to serve an app. A nil field falls back to what the script asked for
/// with `app:run{...}`, then to the default.
public struct Configuration: Sendable {
    /// The address to listen on (default `defaultHost`, loopback only; "0.0.0.0"
    /// for every interface).
    public var host: String?
    /// The TCP port, 0 to 65535 (default `defaultPort`; 0 picks a free one,
    /// read it back from `MicrodotServer.port`).
    public var port: Int?
    /// Event loops, each with its own Lua state, up to 1024 (default 1, as
    /// Microdot; 0 for one per core the process may use: `--workers auto`). Each
    /// worker has its own module-level Lua variables: state that every
    /// request must see goes into `microdot.shared`.
    public var workers: Int?
    /// Log `METHOD PATH STATUS` for each request, as Microdot's `debug=True`
    /// does, and lower the logger's level to `.debug` so that
    /// `microdot.log.debug` shows (default false). Errors are logged either way.
    public var debug: Bool?
    /// Seconds that requests under way get to finish at shutdown (default 10).
    public var shutdownTimeout: Double?
    /// Reload the script when it (or a Lua file in its folder) changes.
    public var reload: Bool?
    /// Seconds Lua may run without yielding before the request is stopped
    /// with a 500 (default 10; 0: no limit). A limit takes the process's
    /// SIGURG: a watchdog thread signals a worker whose Lua runs past it.
    public var handlerTimeout: Double?
    /// Bytes each worker's Lua state may allocate (default 512 MiB; 0: no limit).
    public var memoryLimit: Int?
    /// Bytes `microdot.shared` may hold before `set` evicts the least
    /// recently used keys (default 64 MiB). Not read from the script.
    public var sharedSize: Int?
    /// How long a connection may take to send a request, and stay idle.
    public var timeouts: Timeouts
    /// Set `SO_REUSEPORT` on the listener (`--reuse-port`, default false):
    /// several processes (an old and a new release) listen on one port and
    /// the kernel spreads connections among them; without it a second
    /// process fails with `ListenError` (the port is in use). Each process
    /// has its own `microdot.shared`. Not read from the script.
    public var reusePort: Bool?
    /// Proxies whose forwarding headers are believed (`--trusted-proxy`),
    /// as CIDR networks or single addresses, IPv4 or IPv6: `10.0.0.0/8`,
    /// `::1`. From a peer inside one, `Forwarded` (RFC 7239), else
    /// `X-Forwarded-For` and `X-Forwarded-Proto`, give `req.client_addr` and
    /// `req.scheme` (README, Deploying). Empty by default: headers are
    /// never believed. Not read from the script; `validate()` refuses an
    /// entry that is not a network.
    public var trustedProxies: [String]?
    /// A PEM file with the server's certificate, then the rest of its chain
    /// (`--tls-cert`): with `tlsKeyPath`, the server speaks HTTPS only (TLS
    /// 1.2 or later, ALPN `http/1.1`) and `req.scheme` is `https`. Both or
    /// neither; `MicrodotServer.start` throws `TLSError` when a file cannot
    /// be used. Not read from the script.
    public var tlsCertificatePath: String?
    /// The PEM file with the certificate's private key, unencrypted (`--tls-key`).
    public var tlsKeyPath: String?
    /// Compress eligible responses with gzip (`--gzip`, default false):
    /// level 6, when the request's `Accept-Encoding` takes gzip and the
    /// response is text, JSON, JavaScript, XML or SVG of 256 bytes or more
    /// (or streamed) with no `Content-Encoding` of its own; such responses
    /// also get `Vary: Accept-Encoding` (README, Deploying). Not read from
    /// the script.
    public var gzip: Bool?
    /// `redis://[[user]:password@]host[:port][/db]` (`--shared`):
    /// `microdot.shared` and `microdot.pubsub` go through this Redis server,
    /// so that several processes share them (spec section 21; README,
    /// Deploying). `validate()` checks the syntax; `MicrodotServer.start`
    /// throws `SharedStoreError` when the server cannot be reached. Not read
    /// from the script.
    public var sharedURL: String?
    /// The access log (`--access-log`): a file path, appended to, or `-`
    /// for standard output. A line per response in nginx's combined format
    /// plus the request id (README, Deploying); requests then get ids
    /// (`X-Request-Id`). SIGUSR1 reopens the file. `MicrodotServer.start`
    /// throws `AccessLogError` when it cannot be opened. Not read from the script.
    public var accessLog: String?
    /// `HOST:PORT` of a second listener answering `GET /metrics` with
    /// Prometheus text (`--metrics`, e.g. `127.0.0.1:9100`; `[::1]:9100`;
    /// port 0 picks a free one: `MicrodotServer.metricsPort`). Never the
    /// app's own address: `validate()` refuses it. Not read from the script.
    public var metrics: String?

    /// A configuration; every field left nil comes from the script's
    /// `app:run{...}`, then from the defaults below. `timeouts` are not read
    /// from the script.
    public init(
        host: String? = nil, port: Int? = nil, workers: Int? = nil, debug: Bool? = nil,
        shutdownTimeout: Double? = nil, reload: Bool? = nil, handlerTimeout: Double? = nil,
        memoryLimit: Int? = nil, sharedSize: Int? = nil, timeouts: Timeouts = Timeouts(),
        reusePort: Bool? = nil, trustedProxies: [String]? = nil,
        tlsCertificatePath: String? = nil, tlsKeyPath: String? = nil, gzip: Bool? = nil, sharedURL: String? = nil,
        accessLog: String? = nil, metrics: String? = nil
    ) {
        self.host = host
        self.port = port
        self.workers = workers
        self.debug = debug
        self.shutdownTimeout = shutdownTimeout
        self.reload = reload
        self.handlerTimeout = handlerTimeout
        self.memoryLimit = memoryLimit
        self.sharedSize = sharedSize
        self.timeouts = timeouts
        self.reusePort = reusePort
        self.trustedProxies = trustedProxies
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsKeyPath = tlsKeyPath
        self.gzip = gzip
        self.sharedURL = sharedURL
        self.accessLog = accessLog
        self.metrics = metrics
    }

    /// One worker, as Microdot, Flask's development server and nginx start
    /// with: module-level Lua state then behaves as in Python Microdot.
    public static let defaultWorkers = 1

    /// `workers` for "one per core" (`--workers auto`).
    public static let autoWorkers = 0

    /// The cores the process may use: the cgroup limit NIO sees, and the
    /// CPU affinity (`taskset`) it does not. What `--workers auto` starts.
    public static var coreWorkers: Int {
        max(1, min(CPUAffinity.allowedCPUCount ?? System.coreCount, System.coreCount))
    }

    /// Loopback only (Microdot listens on 0.0.0.0 by default).
    public static let defaultHost = "127.0.0.1"
    /// Microdot's default port.
    public static let defaultPort = 5000
    /// Seconds.
    public static let defaultShutdownTimeout = 10.0
    /// Seconds.
    public static let defaultHandlerTimeout = 10.0
    /// Bytes per worker: 512 MiB.
    public static let defaultMemoryLimit = 512 * 1024 * 1024

    /// This configuration, with its unset fields taken from `other`.
    func filling(from other: Configuration) -> Configuration {
        Configuration(
            host: host ?? other.host, port: port ?? other.port,
            workers: workers ?? other.workers, debug: debug ?? other.debug,
            shutdownTimeout: shutdownTimeout ?? other.shutdownTimeout,
            reload: reload ?? other.reload,
            handlerTimeout: handlerTimeout ?? other.handlerTimeout,
            memoryLimit: memoryLimit ?? other.memoryLimit,
            sharedSize: sharedSize ?? other.sharedSize,
            timeouts: timeouts, reusePort: reusePort ?? other.reusePort,
            trustedProxies: trustedProxies ?? other.trustedProxies,
            tlsCertificatePath: tlsCertificatePath ?? other.tlsCertificatePath,
            tlsKeyPath: tlsKeyPath ?? other.tlsKeyPath, gzip: gzip ?? other.gzip,
            sharedURL: sharedURL ?? other.sharedURL,
            accessLog: accessLog ?? other.accessLog, metrics: metrics ?? other.metrics)
    }

    /// The number of workers this configuration starts.
    public var workerCount: Int {
        let workers = workers ?? Self.defaultWorkers
        return workers == Self.autoWorkers ? Self.coreWorkers : max(1, workers)
    }

    /// Throws `ConfigurationError` for the first field out of its range
    /// (`Configuration.Option` lists them): `MicrodotServer.start` and
    /// `MicrodotTestClient` call it, so a bad value stops start-up instead
    /// of wrapping (a port of 70000 is not 4464).
    public func validate() throws(ConfigurationError) {
        try validate(from: .swift)
    }

    /// `validate()`, naming the options as `source` spells them.
    package func validate(from source: Option.Source) throws(ConfigurationError) {
        if let host { try Self.check(host: host, from: source) }
        let values: [(Option, Int?)] = [
            (.port, port), (.workers, workers), (.memoryLimit, memoryLimit), (.sharedSize, sharedSize),
        ]
        for case (let option, let value?) in values { try Self.check(option, Double(value), from: source) }
        let seconds: [(Option, Double?)] = [
            (.shutdownTimeout, shutdownTimeout), (.handlerTimeout, handlerTimeout),
            (.headerTimeout, timeouts.requestHead), (.idleTimeout, timeouts.idle),
            (.bodyTimeout, timeouts.body), (.writeTimeout, timeouts.write),
            (.lingeringTime, timeouts.lingeringTime), (.lingeringTimeout, timeouts.lingeringTimeout),
        ]
        for case (let option, let value?) in seconds { try Self.check(option, value, from: source) }
        for network in trustedProxies ?? [] { _ = try Self.check(trustedProxy: network, from: source) }
        try Self.check(tlsCertificate: tlsCertificatePath, tlsKey: tlsKeyPath, from: source)
        if let sharedURL { try Self.check(sharedURL: sharedURL, from: source) }
        if accessLog == "" { throw Option.accessLog.error(from: source, got: "an empty path") }
        if let metrics { _ = try checkMetrics(metrics, from: source) }
    }

    /// The trusted proxies as networks (each checked by `validate()`).
    var trustedNetworks: TrustedProxies {
        TrustedProxies((trustedProxies ?? []).compactMap(IPNetwork.init), scheme: servesTLS ? "https" : "http")
    }

    /// Whether both TLS files are given (`validate()` refuses one alone).
    var servesTLS: Bool { tlsCertificatePath != nil && tlsKeyPath != nil }

    var luaLimits: Worker.LuaLimits {
        Worker.LuaLimits(
            memoryLimit: max(0, memoryLimit ?? Self.defaultMemoryLimit),
            handlerTimeout: max(0, handlerTimeout ?? Self.defaultHandlerTimeout))
    }
}

/// Seconds a client gets for each part of a request (0: no limit).
public struct Timeouts: Sendable, Equatable {
    /// From accepting a connection to the end of the first request's head
    /// (a slow-headers attack): 408 and close.
    public var requestHead: Double
    /// Between a response and the next request on a kept-alive connection:
    /// closed quietly.
    public var idle: Double
    /// Between two reads of a request body: 408 and close.
    public var body: Double
    /// A response the client does not read: closed once the connection has
    /// not been able to take more, and has sent nothing, for this long
    /// (time without progress, as nginx's `send_timeout`).
    public var write: Double
    /// Lingering close, as nginx's `lingering_time`: when the server closes
    /// while the client may still be sending (an early 413, 400, 431, a
    /// `Connection: close` response), it stops writing and reads and drops
    /// what comes for at most this long, so the client reads the response
    /// instead of a reset.
    public var lingeringTime: Double
    /// Lingering close ends sooner when nothing arrives for this long (nginx's
    /// `lingering_timeout`).
    public var lingeringTimeout: Double

    /// Timeouts in seconds; the defaults are what the server uses when none
    /// are given.
    public init(
        requestHead: Double = 10, idle: Double = 60, body: Double = 30, write: Double = 30,
        lingeringTime: Double = 30, lingeringTimeout: Double = 5
    ) {
        self.requestHead = requestHead
        self.idle = idle
        self.body = body
        self.write = write
        self.lingeringTime = lingeringTime
        self.lingeringTimeout = lingeringTimeout
    }
}
