import Foundation
import Logging
import MicrodotLua
import ServiceLifecycle

/// The app's own Swift code: an inventory that takes a moment to answer, as
/// a database would.
actor Inventory {
    private var stock = ["apple": 3, "pear": 0]

    func count(of item: String) async throws -> Int? {
        try await Task.sleep(nanoseconds: 10_000_000)
        return stock[item]
    }

    func take(_ item: String) -> Int? {
        guard let count = stock[item], count > 0 else { return nil }
        stock[item] = count - 1
        return count - 1
    }
}

let inventory = Inventory()

// `require("inventory")` in Lua. An async function suspends only the
// request that calls it; a thrown error is a Lua error.
let module = LuaModule("inventory")
    .asyncFunction("count") { arguments in
        guard let item = arguments.first?.string else { throw LuaFunctionError("count expects an item name") }
        return try await inventory.count(of: item).map { .integer($0) } ?? .nil
    }
    .asyncFunction("take") { arguments in
        guard let item = arguments.first?.string else { throw LuaFunctionError("take expects an item name") }
        return await inventory.take(item).map { .integer($0) } ?? .nil
    }

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8080
// The program's own logger: the server's records (Lua's microdot.log too)
// go through it, with `worker` and `request` metadata.
let logger = Logger(label: "embed-example")
let server = try MicrodotServer.start(
    app: MicrodotApp(scriptPath: "app.lua", modules: [module]),
    configuration: Configuration(port: port), logger: logger)
// Written unbuffered, so a script reading the output sees the port at once.
FileHandle.standardOutput.write(Data("Serving on http://\(server.host):\(server.port)\n".utf8))
// The server is a swift-service-lifecycle Service, run beside whatever else
// the program runs: SIGTERM and SIGINT stop it gracefully (requests under way
// finish), and so does `app:shutdown()` (GET /shutdown), which ends the group.
let group = ServiceGroup(
    configuration: ServiceGroupConfiguration(
        services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)],
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
try await group.run()
