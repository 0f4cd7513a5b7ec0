extension Configuration {
    /// The metrics listener's address: `metrics` split into host and port.
    /// Throws when it is not `HOST:PORT` (`[v6]:PORT`), the port is out of
    /// 0-65535, or it is the app's own address (the app's internals stay
    /// off its public side; spec section 21).
    package func checkMetrics(_ text: String, from source: Option.Source) throws(ConfigurationError)
        -> (host: String, port: Int)
    {
        guard let (host, port) = Self.splitHostPort(text) else {
            throw Option.metrics.error(from: source, got: String(reflecting: text))
        }
        try Self.check(host: host, from: source)
        let appHost = self.host ?? Self.defaultHost
        let appPort = self.port ?? Self.defaultPort
        let anyHost: Set<String> = ["0.0.0.0", "::", "*"]
        let sameHost = host == appHost || anyHost.contains(host) || anyHost.contains(appHost)
        if port != 0, port == appPort, sameHost {
            let name = Option.metrics.name(in: source)
            throw ConfigurationError(
                option: name,
                message: "\(name) must not be the app's own address (\(appHost):\(appPort)): "
                    + "give the metrics a port of their own, got \(text)")
        }
        return (host, port)
    }

    /// `127.0.0.1:9100` or `[::1]:9100` as host and port; nil when malformed.
    static func splitHostPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port), !host.isEmpty else {
            return nil
        }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        return (host, port)
    }
}
