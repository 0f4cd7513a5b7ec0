/// How to serve an app. A nil field falls back to what the script asked for
/// with `app:run{...}`, then to the default.
public struct Configuration: Sendable {
    public var host: String?
    public var port: Int?
    /// Event loops, each with its own Lua state (default: one per core).
    public var workers: Int?
    public var debug: Bool?
    /// Seconds that requests under way get to finish at shutdown (default 10).
    public var shutdownTimeout: Double?
    /// Reload the script when it (or a Lua file in its folder) changes.
    public var reload: Bool?

    public init(host: String? = nil, port: Int? = nil, workers: Int? = nil, debug: Bool? = nil,
                shutdownTimeout: Double? = nil, reload: Bool? = nil) {
        self.host = host
        self.port = port
        self.workers = workers
        self.debug = debug
        self.shutdownTimeout = shutdownTimeout
        self.reload = reload
    }

    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 5000
    public static let defaultShutdownTimeout = 10.0

    /// This configuration, with its unset fields taken from `other`.
    func filling(from other: Configuration) -> Configuration {
        Configuration(host: host ?? other.host, port: port ?? other.port,
                      workers: workers ?? other.workers, debug: debug ?? other.debug,
                      shutdownTimeout: shutdownTimeout ?? other.shutdownTimeout,
                      reload: reload ?? other.reload)
    }
}
