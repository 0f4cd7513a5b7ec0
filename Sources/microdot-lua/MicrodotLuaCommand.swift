import ArgumentParser
import Dispatch
import Logging
import MicrodotLua

#if canImport(Glibc)
    import Glibc
#endif

@main
struct MicrodotLuaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "microdot-lua",
        abstract: "Serve a Lua web app written with the microdot API.")

    @Argument(help: "The Lua script that builds the app.")
    var script: String

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
        help:
            "Run the script instead of serving it, e.g. a test built on microdot.test_client; exit 1 if it raises an error."
    )
    var test = false

    /// Every value in its range, by `Configuration`'s rules (the same as
    /// `app:run{...}` and the Swift API's): otherwise the usage error names
    /// the flag, the valid values and the value given.
    func validate() throws {
        typealias Option = Configuration.Option
        do throws(ConfigurationError) {
            if let host { try Configuration.check(host: host, from: .commandLine) }
            if let port { try Configuration.check(.port, Double(port), from: .commandLine) }
            if case .count(let count) = workers { try Configuration.check(.workers, Double(count), from: .commandLine) }
            let counts: [(Option, Int?)] = [(.sharedSize, sharedSize), (.memoryLimit, memoryLimit)]
            for case (let option, let value?) in counts {
                try Configuration.check(option, Double(value), from: .commandLine)
            }
            let seconds: [(Option, Double?)] = [
                (.shutdownTimeout, shutdownTimeout), (.handlerTimeout, handlerTimeout),
                (.headerTimeout, headerTimeout), (.idleTimeout, idleTimeout), (.bodyTimeout, bodyTimeout),
                (.writeTimeout, writeTimeout),
            ]
            for case (let option, let value?) in seconds { try Configuration.check(option, value, from: .commandLine) }
        } catch {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        var logger = Logger(label: "microdot-lua")
        // Before the script runs, so that its top level's debug records show too.
        if debug { logger.logLevel = .debug }
        if test {
            do {
                try MicrodotApp(scriptPath: script).runScript(logger: logger)
            } catch let error as LuaError {
                StandardStreams.error("microdot-lua: \(error.message)\n")
                throw ExitCode.failure
            }
            return
        }
        let server: MicrodotServer
        do {
            server = try MicrodotServer.start(
                app: MicrodotApp(scriptPath: script),
                configuration: configuration, logger: logger)
        } catch let error as LuaError {
            StandardStreams.error("microdot-lua: \(error.message)\n")
            throw ExitCode.failure
        } catch let error as ListenError {
            StandardStreams.error("microdot-lua: \(error)\n")
            throw ExitCode.failure
        } catch let error as ConfigurationError {
            StandardStreams.error("microdot-lua: \(error)\n")
            throw ExitCode.failure
        }
        // Signals are handled before the start-up lines, by a C handler that
        // is in place at once: a parent that stops the server as soon as it
        // reads them must not find the signal ignored.
        SignalPipe.install(for: [SIGINT, SIGTERM]) { server.shutdown() }
        let workerCount = server.configuration.workerCount
        let more =
            server.configuration.workers == Configuration.autoWorkers
            ? "one per core" : "--workers N or --workers auto for more; state shared by all goes in microdot.shared"
        StandardStreams.output("\(workerCount) worker\(workerCount == 1 ? "" : "s") (\(more))\n")
        StandardStreams.output("Serving on http://\(server.host):\(server.port)\n")
        try server.wait()
    }
}

/// SIGINT and SIGTERM, turned into a call: the handler writes a byte to a
/// pipe (all a signal handler may safely do), a dispatch thread reads it.
enum SignalPipe {
    nonisolated(unsafe) private static var writeEnd: Int32 = -1

    static func install(for signals: [Int32], _ action: @escaping @Sendable () -> Void) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        writeEnd = ends[1]
        let readEnd = ends[0]
        for number in signals {
            signal(number) { _ in
                var byte: UInt8 = 1
                _ = write(SignalPipe.writeEnd, &byte, 1)
            }
        }
        DispatchQueue.global().async {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count == 1 {
                    action()
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}

extension MicrodotLuaCommand {
    /// The options as a `Configuration` (sizes from MiB to bytes: checked
    /// by `validate()`, so they cannot overflow).
    var configuration: Configuration {
        let defaults = Timeouts()
        return Configuration(
            host: host, port: port, workers: workers?.configured, debug: debug ? true : nil,
            shutdownTimeout: shutdownTimeout, reload: reload ? true : nil,
            handlerTimeout: handlerTimeout, memoryLimit: memoryLimit.map { $0 * 1024 * 1024 },
            sharedSize: sharedSize.map { $0 * 1024 * 1024 },
            timeouts: Timeouts(
                requestHead: headerTimeout ?? defaults.requestHead, idle: idleTimeout ?? defaults.idle,
                body: bodyTimeout ?? defaults.body, write: writeTimeout ?? defaults.write))
    }
}

/// `--workers`: a count (its range is checked with the other options), or
/// "auto" for one per core.
enum Workers: ExpressibleByArgument {
    case auto
    case count(Int)

    init?(argument: String) {
        if argument == "auto" {
            self = .auto
        } else if let count = Int(argument) {
            self = .count(count)
        } else {
            return nil
        }
    }

    /// `Configuration.workers`: the count, or `Configuration.autoWorkers`.
    var configured: Int {
        switch self {
        case .auto: return Configuration.autoWorkers
        case .count(let count): return count
        }
    }
}

/// Writes straight to the process's standard output and error file
/// descriptors, unbuffered, so that a parent reading a pipe sees each line
/// at once. (C's `stdout`/`stderr` are mutable globals Swift 6 rejects.)
enum StandardStreams {
    static func output(_ text: String) {
        writeAll(text, to: STDOUT_FILENO)
    }

    static func error(_ text: String) {
        writeAll(text, to: STDERR_FILENO)
    }

    private static func writeAll(_ text: String, to descriptor: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
