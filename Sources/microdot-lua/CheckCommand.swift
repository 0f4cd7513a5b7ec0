import ArgumentParser
import Logging
import MicrodotLua

/// `microdot-lua check app.lua [flags]`, as `nginx -t`: loads the script as
/// a worker would (nothing listens, nothing is connected to), compiles every
/// template in its template folder and checks the flags; prints
/// `app.lua: ok (N routes)` and exits 0, or each problem as `file:line:
/// message` or `--flag: message` and exits 1.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "microdot-lua check",
        abstract: "Check the script, its templates and the serving flags without serving: exit 0 when all are good.")

    @Argument(help: "The Lua script that builds the app.")
    var script: String

    @OptionGroup var options: ServeOptions

    func run() throws {
        var problems = options.problems().map { problem in
            // "--port must be ..." becomes "--port: must be ...".
            let rest =
                problem.message.hasPrefix(problem.option + " ")
                ? String(problem.message.dropFirst(problem.option.count + 1)) : problem.message
            return "\(problem.option): \(rest)"
        }
        // Both files given (one alone is a problem above): readable, PEM, matching.
        if let certificate = options.tlsCert, let key = options.tlsKey, !certificate.isEmpty, !key.isEmpty {
            do throws(TLSError) {
                _ = try TLSFiles.context(certificate: certificate, key: key)
            } catch {
                problems.append("\(error.flag): \(error.message)")
            }
        }
        if let path = options.accessLog, !path.isEmpty, let problem = AccessLogError.problem(path: path) {
            problems.append("--access-log: \(problem)")
        }
        var routeCount = 0
        do {
            let inspection = try MicrodotApp(scriptPath: script).inspect(
                logger: Logger(label: "microdot-lua"), compilingTemplates: true)
            routeCount = inspection.routes.count
            problems += inspection.templateProblems
        } catch let error as LuaError {
            // The load error names file:line; its traceback is for the log.
            problems.append(String(error.message.prefix { $0 != "\n" }))
        }
        guard problems.isEmpty else {
            StandardStreams.error(problems.map { $0 + "\n" }.joined())
            throw ExitCode.failure
        }
        StandardStreams.output("\(script): ok (\(routeCount) route\(routeCount == 1 ? "" : "s"))\n")
    }
}
