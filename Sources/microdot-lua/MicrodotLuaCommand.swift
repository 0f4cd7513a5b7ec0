import ArgumentParser
import Dispatch
import Logging
import MicrodotLua

#if canImport(Glibc)
    import Glibc
#endif

struct MicrodotLuaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "microdot-lua",
        abstract: "Serve a Lua web app written with the microdot API.",
        discussion:
            "Also: `microdot-lua routes app.lua [--json]` lists the routes, and `microdot-lua check app.lua [flags]` "
            + "checks the script, its templates and the flags without serving (a script named routes or check "
            + "is given as ./routes).")

    @Argument(help: "The Lua script that builds the app.")
    var script: String

    @OptionGroup var options: ServeOptions

    @Flag(
        help:
            "Run the script instead of serving it, e.g. a test built on microdot.test_client; exit 1 if it raises an error."
    )
    var test = false

    /// Every value in its range, by `Configuration`'s rules (the same as
    /// `app:run{...}` and the Swift API's): otherwise the usage error names
    /// the flag, the valid values and the value given.
    func validate() throws {
        if let problem = options.problems().first { throw ValidationError(problem.message) }
    }

    func run() throws {
        var logger = Logger(label: "microdot-lua")
        // Before the script runs, so that its top level's debug records show too.
        if options.debug { logger.logLevel = .debug }
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
                configuration: options.configuration, logger: logger)
        } catch let error as LuaError {
            StandardStreams.error("microdot-lua: \(error.message)\n")
            throw ExitCode.failure
        } catch let error as ListenError {
            StandardStreams.error("microdot-lua: \(error)\n")
            throw ExitCode.failure
        } catch let error as ConfigurationError {
            StandardStreams.error("microdot-lua: \(error)\n")
            throw ExitCode.failure
        } catch let error as SharedStoreError {
            StandardStreams.error("microdot-lua: \(error)\n")
            throw ExitCode.failure
        } catch let error as AccessLogError {
            StandardStreams.error("microdot-lua: --access-log: \(error)\n")
            throw ExitCode.failure
        } catch let error as TLSError {
            StandardStreams.error("microdot-lua: \(error.flag): \(error)\n")
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
        let scheme = server.configuration.tlsCertificatePath == nil ? "http" : "https"
        StandardStreams.output("Serving on \(scheme)://\(server.host):\(server.port)\n")
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
