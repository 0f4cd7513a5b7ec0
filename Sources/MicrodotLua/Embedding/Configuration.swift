/// How to serve an app. A nil field falls back to what the script asked for
/// with `app:run{...}`, then to the default.
public struct Configuration: Sendable {
    public var host: String?
    public var port: Int?
    public var workers: Int?
    public var debug: Bool?

    public init(host: String? = nil, port: Int? = nil, workers: Int? = nil, debug: Bool? = nil) {
        self.host = host
        self.port = port
        self.workers = workers
        self.debug = debug
    }

    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 5000

    /// This configuration, with its unset fields taken from `other`.
    func filling(from other: Configuration) -> Configuration {
        Configuration(host: host ?? other.host, port: port ?? other.port,
                      workers: workers ?? other.workers, debug: debug ?? other.debug)
    }
}
