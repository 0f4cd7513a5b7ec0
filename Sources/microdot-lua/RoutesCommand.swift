import ArgumentParser
import Logging
import MicrodotLua

/// `microdot-lua routes app.lua [--json]`, as `flask routes`: the script's
/// top level runs as a worker runs it (nothing listens), then a row per
/// route in matching order.
struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "microdot-lua routes",
        abstract: "List the app's routes in matching order: METHODS, PATTERN, HANDLER (file:line); nothing is served.",
        discussion:
            "HEAD and OPTIONS, answered for every GET route, are implicit. Exit 1 when the script does not load."
    )

    @Argument(help: "The Lua script that builds the app.")
    var script: String

    @Flag(help: #"Print [{"methods":[...],"pattern":"...","handler":"app.lua:5"}] instead of columns."#)
    var json = false

    func run() throws {
        let inspection: AppInspection
        do {
            inspection = try MicrodotApp(scriptPath: script).inspect(logger: Logger(label: "microdot-lua"))
        } catch let error as LuaError {
            StandardStreams.error("microdot-lua: \(error.message)\n")
            throw ExitCode.failure
        }
        StandardStreams.output(json ? Self.json(inspection.routes) : Self.table(inspection.routes))
    }

    /// Space-aligned columns under a header line.
    static func table(_ routes: [AppInspection.Route]) -> String {
        let rows =
            [["METHODS", "PATTERN", "HANDLER"]]
            + routes.map { [$0.methods.joined(separator: ", "), $0.pattern, $0.handler] }
        let widths = (0..<2).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row[0].padding(to: widths[0]) + "  " + row[1].padding(to: widths[1]) + "  " + row[2] + "\n"
        }.joined()
    }

    /// One JSON array, the keys in a fixed order.
    static func json(_ routes: [AppInspection.Route]) -> String {
        let items = routes.map { route in
            let methods = route.methods.map(jsonString).joined(separator: ",")
            return
                #"{"methods":[\#(methods)],"pattern":\#(jsonString(route.pattern)),"handler":\#(jsonString(route.handler))}"#
        }
        return "[" + items.joined(separator: ",") + "]\n"
    }

    /// `text` as a JSON string (RFC 8259 section 7).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
