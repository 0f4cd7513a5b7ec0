import ArgumentParser
import MicrodotLua

/// The flags that say how to serve: the server's, and what `check` checks.
struct ServeOptions: ParsableArguments {
    // Numbers are read with `.unconditional`, so that `--port -1` is a
    // value (refused with the option's range) rather than a missing one.
    // Defaults are in the help text, not the properties, which ArgumentParser
    // would print a second time.

    @Option(help: "The address to listen on (default 127.0.0.1; 0.0.0.0 for every interface).")
    var host: String?

    @Option(parsing: .unconditional, help: "The port to listen on, 0 to 65535 (default 5000; 0 picks a free one).")
    var port: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "The number of workers, each an event loop with its own Lua state (default 1; auto: one per core).",
            valueName: "n|auto"))
    var workers: Workers?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "MiB microdot.shared may hold before it evicts the least recently used keys (default 64).",
            valueName: "MiB"))
    var sharedSize: Int?

    @Flag(help: "Log each request as METHOD PATH STATUS, and show microdot.log.debug records.")
    var debug = false

    @Flag(help: "Reload the script when it, or a Lua file in its folder, changes (for development).")
    var reload = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds that requests under way get to finish when the server stops (default 10).", valueName: "seconds"))
    var shutdownTimeout: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds Lua may run without yielding before the request is stopped with a 500 (default 10; 0: no limit).",
            valueName: "seconds"))
    var handlerTimeout: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("MiB each worker's Lua state may allocate (default 512; 0: no limit).", valueName: "MiB"))
    var memoryLimit: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds a new connection has to send its first request head (default 10; 0: no limit).",
            valueName: "seconds"))
    var headerTimeout: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds a kept-alive connection may stay idle between requests (default 60; 0: no limit).",
            valueName: "seconds"))
    var idleTimeout: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds allowed between two reads of a request body (default 30; 0: no limit).", valueName: "seconds"))
    var bodyTimeout: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds a client may leave a response unread before the connection is closed (default 30; 0: no limit).",
            valueName: "seconds"))
    var writeTimeout: Double?

    @Flag(
        help: ArgumentHelp(
            "Set SO_REUSEPORT on the listener, so that several processes (an old and a new release) share the port."
        ))
    var reusePort = false

    @Option(
        help: ArgumentHelp(
            "Believe Forwarded / X-Forwarded-For / X-Forwarded-Proto from peers in this network (repeatable; IPv4 or IPv6, e.g. 10.0.0.0/8 or ::1).",
            valueName: "CIDR"))
    var trustedProxy: [String] = []

    @Option(
        help: ArgumentHelp(
            "Serve HTTPS only (TLS 1.2+) with this PEM certificate, followed by its chain; needs --tls-key.",
            valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The PEM private key of --tls-cert (unencrypted).", valueName: "file"))
    var tlsKey: String?

    @Flag(
        help: ArgumentHelp(
            "Gzip text, JSON, JavaScript, XML and SVG responses of 256 bytes or more (and streams) for clients that accept it."
        ))
    var gzip = false
    @Option(
        help: ArgumentHelp(
            "Keep microdot.shared and microdot.pubsub in this Redis server, shared by every process using it.",
            valueName: "redis://[[user]:password@]host[:port][/db]"))
    var shared: String?
    @Option(
        help: ArgumentHelp(
            "Append a line per response to this file (- for standard output): nginx's combined format plus the request id; SIGUSR1 reopens it.",
            valueName: "path|-"))
    var accessLog: String?

    @Option(
        help: ArgumentHelp(
            "Serve Prometheus metrics at http://HOST:PORT/metrics, a listener apart from the app's (e.g. 127.0.0.1:9100).",
            valueName: "host:port"))
    var metrics: String?

    /// Every value out of its range, by `Configuration`'s rules (the same as
    /// `app:run{...}` and the Swift API's), each naming the flag, the valid
    /// values and the value given; empty when all are good.
    func problems() -> [ConfigurationError] {
        typealias Option = Configuration.Option
        var problems: [ConfigurationError] = []
        func note(_ check: () throws(ConfigurationError) -> Void) {
            do throws(ConfigurationError) { try check() } catch { problems.append(error) }
        }
        if let host {
            note { () throws(ConfigurationError) in try Configuration.check(host: host, from: .commandLine) }
        }
        var numbers: [(Option, Double?)] = [(.port, port.map { Double($0) })]
        if case .count(let count) = workers { numbers.append((.workers, Double(count))) }
        numbers += [
            (.sharedSize, sharedSize.map { Double($0) }), (.memoryLimit, memoryLimit.map { Double($0) }),
            (.shutdownTimeout, shutdownTimeout), (.handlerTimeout, handlerTimeout),
            (.headerTimeout, headerTimeout), (.idleTimeout, idleTimeout), (.bodyTimeout, bodyTimeout),
            (.writeTimeout, writeTimeout),
        ]
        for case (let option, let value?) in numbers {
            note { () throws(ConfigurationError) in try Configuration.check(option, value, from: .commandLine) }
        }
        for network in trustedProxy {
            note { () throws(ConfigurationError) in
                _ = try Configuration.check(trustedProxy: network, from: .commandLine)
            }
        }
        note { () throws(ConfigurationError) in
            try Configuration.check(tlsCertificate: tlsCert, tlsKey: tlsKey, from: .commandLine)
        }
        if let shared {
            note { () throws(ConfigurationError) in try Configuration.check(sharedURL: shared, from: .commandLine) }
        }
        if accessLog == "" { problems.append(Option.accessLog.error(from: .commandLine, got: "an empty path")) }
        if let metrics {
            note { () throws(ConfigurationError) in
                _ = try configuration.checkMetrics(metrics, from: .commandLine)
            }
        }
        return problems
    }

    /// The options as a `Configuration` (sizes from MiB to bytes: checked
    /// by `problems()`, so they cannot overflow).
    var configuration: Configuration {
        let defaults = Timeouts()
        return Configuration(
            host: host, port: port, workers: workers?.configured, debug: debug ? true : nil,
            shutdownTimeout: shutdownTimeout, reload: reload ? true : nil,
            handlerTimeout: handlerTimeout, memoryLimit: memoryLimit.map { $0 * 1024 * 1024 },
            sharedSize: sharedSize.map { $0 * 1024 * 1024 },
            timeouts: Timeouts(
                requestHead: headerTimeout ?? defaults.requestHead, idle: idleTimeout ?? defaults.idle,
                body: bodyTimeout ?? defaults.body, write: writeTimeout ?? defaults.write),
            reusePort: reusePort ? true : nil, trustedProxies: trustedProxy.isEmpty ? nil : trustedProxy,
            tlsCertificatePath: tlsCert, tlsKeyPath: tlsKey, gzip: gzip ? true : nil, sharedURL: shared,
            accessLog: accessLog, metrics: metrics)
    }
}
