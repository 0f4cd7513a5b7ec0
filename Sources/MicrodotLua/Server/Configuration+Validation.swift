import CLua

/// An option given a value it cannot take, by the command line, the
/// script's `app:run{...}` or a Swift `Configuration`: the message names the
/// option as it was given, its valid values and the value given.
/// `MicrodotServer.start` and `MicrodotTestClient` throw it before anything
/// starts; the binary prints it and exits non-zero.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// The option as it was given: `--port`, `port` (a key of `app:run`),
    /// `Configuration.port`.
    public let option: String
    /// One line, e.g. `--port must be an integer from 0 to 65535 (0 picks a
    /// free port), got 70000`.
    public let message: String
    /// The message.
    public var description: String { message }
}

extension Configuration {
    /// The options whose values are checked, with their names in each
    /// place they can be given. The one place of each option's range.
    package enum Option: CaseIterable, Sendable {
        case host, port, workers, debug, shutdownTimeout, handlerTimeout, memoryLimit, sharedSize
        case headerTimeout, idleTimeout, bodyTimeout, writeTimeout, lingeringTime, lingeringTimeout
        case reusePort, trustedProxy, tlsCertificate, tlsKey, shared, accessLog, metrics

        /// Where a value was given, which decides the option's name in a
        /// message and its unit (the command line gives sizes in MiB).
        package enum Source: Sendable {
            case swift, commandLine, script
        }

        /// The keys `app:run{...}` takes.
        static let scriptKeys = ["host", "port", "workers", "debug"]

        /// `Configuration.port`, `--port` or `port`.
        package func name(in source: Source) -> String {
            switch source {
            case .swift: return "Configuration." + swiftName
            case .commandLine: return flag.map { "--" + $0 } ?? "Configuration." + swiftName
            case .script: return swiftName
            }
        }

        private var swiftName: String {
            switch self {
            case .host: return "host"
            case .port: return "port"
            case .workers: return "workers"
            case .debug: return "debug"
            case .shutdownTimeout: return "shutdownTimeout"
            case .handlerTimeout: return "handlerTimeout"
            case .memoryLimit: return "memoryLimit"
            case .sharedSize: return "sharedSize"
            case .headerTimeout: return "timeouts.requestHead"
            case .idleTimeout: return "timeouts.idle"
            case .bodyTimeout: return "timeouts.body"
            case .writeTimeout: return "timeouts.write"
            case .lingeringTime: return "timeouts.lingeringTime"
            case .lingeringTimeout: return "timeouts.lingeringTimeout"
            case .reusePort: return "reusePort"
            case .trustedProxy: return "trustedProxies"
            case .tlsCertificate: return "tlsCertificatePath"
            case .tlsKey: return "tlsKeyPath"
            case .shared: return "sharedURL"
            case .accessLog: return "accessLog"
            case .metrics: return "metrics"
            }
        }

        private var flag: String? {
            switch self {
            case .host: return "host"
            case .port: return "port"
            case .workers: return "workers"
            case .debug: return "debug"
            case .shutdownTimeout: return "shutdown-timeout"
            case .handlerTimeout: return "handler-timeout"
            case .memoryLimit: return "memory-limit"
            case .sharedSize: return "shared-size"
            case .headerTimeout: return "header-timeout"
            case .idleTimeout: return "idle-timeout"
            case .bodyTimeout: return "body-timeout"
            case .writeTimeout: return "write-timeout"
            case .lingeringTime, .lingeringTimeout: return nil
            case .reusePort: return "reuse-port"
            case .trustedProxy: return "trusted-proxy"
            case .tlsCertificate: return "tls-cert"
            case .tlsKey: return "tls-key"
            case .shared: return "shared"
            case .accessLog: return "access-log"
            case .metrics: return "metrics"
            }
        }

        /// The valid numbers in `source`'s unit, and how to say so.
        private struct Bounds {
            let lower: Double
            let upper: Double
            /// "seconds", "bytes", "MiB"; nil for a plain integer.
            var unit: String?
            /// What a special value means, e.g. "0: no limit".
            var note: String?
            /// Workers also take "auto" where a string can be given.
            var orAuto = false
        }

        /// Seconds: up to about 11 days, which every timer takes as is.
        private static let maxSeconds = 1_000_000.0
        private static let mebibyte = 1024.0 * 1024.0
        /// 1 TiB.
        private static let maxBytes = 1024.0 * 1024.0 * mebibyte

        private func bounds(in source: Source) -> Bounds? {
            let megabytes = source == .commandLine
            let seconds = Bounds(lower: 0, upper: Self.maxSeconds, unit: "seconds", note: "0: no limit")
            switch self {
            case .host, .debug, .reusePort, .trustedProxy, .tlsCertificate, .tlsKey, .shared, .accessLog, .metrics:
                return nil
            case .port:
                return Bounds(lower: 0, upper: 65535, note: "0 picks a free port")
            case .workers:
                return source == .swift
                    ? Bounds(lower: 0, upper: 1024, note: "0: one per core")
                    : Bounds(lower: 1, upper: 1024, orAuto: true)
            case .shutdownTimeout, .lingeringTime, .lingeringTimeout:
                return Bounds(lower: 0, upper: Self.maxSeconds, unit: "seconds")
            case .handlerTimeout, .headerTimeout, .idleTimeout, .bodyTimeout, .writeTimeout:
                return seconds
            case .memoryLimit:
                return Bounds(
                    lower: 0, upper: megabytes ? Self.maxBytes / Self.mebibyte : Self.maxBytes,
                    unit: megabytes ? "MiB" : "bytes", note: "0: no limit")
            case .sharedSize:
                return Bounds(
                    lower: 1, upper: megabytes ? Self.maxBytes / Self.mebibyte : Self.maxBytes,
                    unit: megabytes ? "MiB" : "bytes")
            }
        }

        /// What a valid value is: "an integer from 0 to 65535 (0 picks a
        /// free port)", "a number of seconds from 0 to 1000000 (0: no limit)".
        package func expected(in source: Source) -> String {
            switch self {
            case .host: return "an address such as 127.0.0.1, or 0.0.0.0 for every interface"
            case .debug, .reusePort: return "true or false"
            case .trustedProxy: return "an address or a network such as 10.0.0.0/8, 127.0.0.1 or ::1/128"
            case .tlsCertificate: return "a PEM certificate file, given with \(Option.tlsKey.name(in: source))"
            case .tlsKey: return "a PEM private key file, given with \(Option.tlsCertificate.name(in: source))"
            case .shared: return "a URL redis://[[user]:password@]host[:port][/db]"
            case .accessLog: return "a file path, or - for standard output"
            case .metrics:
                return "HOST:PORT such as 127.0.0.1:9100 ([::1]:9100 for IPv6), not the app's own address"
            default: break
            }
            guard let bounds = bounds(in: source) else { return "" }
            var text =
                bounds.unit.map { "a number of \($0)" } ?? "an integer"
            text += " from \(Self.format(bounds.lower)) to \(Self.format(bounds.upper))"
            if bounds.orAuto { text += ", or auto" }
            if let note = bounds.note { text += " (\(note))" }
            return text
        }

        /// The error for this option given `shown` (a number, or a Lua
        /// value as `LuaStack.describe` shows it).
        package func error(from source: Source, got shown: String) -> ConfigurationError {
            let name = name(in: source)
            return ConfigurationError(option: name, message: "\(name) must be \(expected(in: source)), got \(shown)")
        }

        /// Whether `value` (in `source`'s unit) is in range: a whole number
        /// where the option counts something.
        func accepts(_ value: Double, from source: Source) -> Bool {
            guard let bounds = bounds(in: source), bounds.lower <= value, value <= bounds.upper else { return false }
            return bounds.unit == "seconds" || value == value.rounded()
        }

        /// 5000, 0.5, -1: integers without a fraction.
        static func format(_ value: Double) -> String {
            if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
            return "\(value)"
        }
    }

    /// Throws unless `value`, in `source`'s unit (MiB for the command
    /// line's sizes), is in `option`'s range.
    package static func check(_ option: Option, _ value: Double, from source: Option.Source) throws(ConfigurationError)
    {
        guard option.accepts(value, from: source) else {
            throw option.error(from: source, got: Option.format(value))
        }
    }

    /// Throws unless `host` can be an address to listen on (not empty, no
    /// spaces or control characters); whether it is one of this machine's
    /// is known when binding (`ListenError`).
    package static func check(host: String, from source: Option.Source) throws(ConfigurationError) {
        if host.isEmpty || host.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw Option.host.error(from: source, got: host.isEmpty ? "an empty string" : String(reflecting: host))
        }
    }

    /// The network `text` names (a `--trusted-proxy` value); throws when it
    /// is not an IPv4 or IPv6 address with an optional prefix length.
    package static func check(trustedProxy text: String, from source: Option.Source) throws(ConfigurationError)
        -> IPNetwork
    {
        guard let network = IPNetwork(text) else {
            throw Option.trustedProxy.error(from: source, got: String(reflecting: text))
        }
        return network
    }

    /// Throws unless the TLS files are both given or both absent, and
    /// neither path is empty; whether they can be used is known when they
    /// are loaded (`TLSError`).
    package static func check(tlsCertificate: String?, tlsKey: String?, from source: Option.Source)
        throws(ConfigurationError)
    {
        for (option, path) in [(Option.tlsCertificate, tlsCertificate), (.tlsKey, tlsKey)] {
            if path == "" { throw option.error(from: source, got: "an empty path") }
        }
        let certificate = Option.tlsCertificate.name(in: source)
        let key = Option.tlsKey.name(in: source)
        switch (tlsCertificate, tlsKey) {
        case (.some, nil):
            throw ConfigurationError(
                option: certificate, message: "\(certificate) needs \(key) (the certificate's private key, a PEM file)")
        case (nil, .some):
            throw ConfigurationError(
                option: key, message: "\(key) needs \(certificate) (the certificate and its chain, a PEM file)")
        default: break
        }
    }

    /// The Redis server a `--shared` URL names; throws, saying what is
    /// wrong, unless it is `redis://[[user]:password@]host[:port][/db]`.
    /// Nothing is connected to.
    package static func check(sharedURL url: String, from source: Option.Source) throws(ConfigurationError) {
        do throws(RedisURL.Invalid) {
            _ = try RedisURL(url)
        } catch {
            let name = Option.shared.name(in: source)
            throw ConfigurationError(
                option: name,
                message: "\(name) must be \(Option.shared.expected(in: source)), got \(String(reflecting: url)) "
                    + "(\(error.description))")
        }
    }

    /// The options of the script's `app:run{...}`, the table at `index` (or
    /// nil): host, port, workers (a count or "auto") and debug. Throws for
    /// an unknown key, or a value of the wrong type or out of range; the
    /// message leaves the script's file:line to the caller.
    static func fromScript(_ L: OpaquePointer, at index: Int32) throws(ConfigurationError) -> Configuration {
        var options = Configuration()
        guard lua_type(L, index) == LUA_TTABLE else { return options }
        let table = lua_absindex(L, index)
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        var unknown: [String] = []
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            mdl_pop(L, 1)
            // A key is only read, never converted: lua_next needs it as is.
            if let key = LuaStack(L).string(at: -1) {
                if !Option.scriptKeys.contains(key) { unknown.append(key) }
            } else if lua_type(L, -1) == LUA_TNUMBER {
                unknown.append("[\(Option.format(mdl_tonumber(L, -1)))]")
            } else {
                unknown.append("[\(LuaStack(L).describe(at: -1))]")
            }
        }
        if !unknown.isEmpty {
            let list = unknown.sorted().joined(separator: ", ")
            throw ConfigurationError(
                option: unknown.sorted()[0],
                message: "unknown option\(unknown.count > 1 ? "s" : "") \(list) "
                    + "(app:run takes host, port, workers and debug; other settings are command-line flags such as --handler-timeout)"
            )
        }
        let stack = LuaStack(L)
        // Raw reads: a metamethod's error must not cross this Swift frame.
        switch stack.rawField("host", of: table) {
        case LUA_TNIL: break
        case LUA_TSTRING:
            let host = stack.string(at: -1) ?? ""
            try check(host: host, from: .script)
            options.host = host
        default: throw Option.host.error(from: .script, got: stack.describe(at: -1))
        }
        options.port = try scriptInteger(L, table, "port", .port)
        if stack.rawField("workers", of: table) == LUA_TSTRING, stack.string(at: -1) == "auto" {
            options.workers = autoWorkers
        } else {
            options.workers = try scriptInteger(L, table, "workers", .workers)
        }
        switch stack.rawField("debug", of: table) {
        case LUA_TNIL: break
        case LUA_TBOOLEAN: options.debug = lua_toboolean(L, -1) != 0
        default: throw Option.debug.error(from: .script, got: stack.describe(at: -1))
        }
        return options
    }

    /// The integer under `option`'s key, nil when absent; a string is not
    /// converted (`port = "80"` is an error, as a typo could be).
    private static func scriptInteger(
        _ L: OpaquePointer, _ table: Int32, _ key: StaticString, _ option: Option
    ) throws(ConfigurationError) -> Int? {
        let type = LuaStack(L).rawField(key, of: table)
        defer { mdl_pop(L, 1) }
        if type == LUA_TNIL { return nil }
        var isInteger: Int32 = 0
        let value = mdl_tointegerx(L, -1, &isInteger)
        guard type == LUA_TNUMBER, isInteger != 0, option.accepts(Double(value), from: .script) else {
            throw option.error(from: .script, got: LuaStack(L).describe(at: -1))
        }
        return Int(value)
    }
}
