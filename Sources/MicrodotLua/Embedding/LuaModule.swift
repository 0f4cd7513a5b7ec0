/// Swift functions a Lua script can `require`: the host's way to give routes
/// what Lua lacks (a database, a cache, the app's own Swift code).
///
///     let users = LuaModule("users")
///         .function("count") { _ in .integer(store.count) }
///         .asyncFunction("find") { args in try await store.find(id: args.first?.int ?? 0) }
///     let app = MicrodotApp(scriptPath: "app.lua", modules: [users])
///
/// In Lua, `local users = require("users")` then `users.find(42)`. Arguments
/// and results convert as `LuaValue`; a thrown error is a Lua error. An async
/// function suspends only the calling request's coroutine and resumes it on
/// its own event loop when the result is ready.
public struct LuaModule: Sendable {
    public typealias Function = @Sendable ([LuaValue]) throws -> LuaValue
    public typealias AsyncFunction = @Sendable ([LuaValue]) async throws -> LuaValue

    enum Body: Sendable {
        case sync(Function)
        case async(AsyncFunction)
    }

    public let name: String
    private(set) var functions: [(name: String, body: Body)] = []

    public init(_ name: String) {
        self.name = name
    }

    public func function(_ name: String, _ body: @escaping Function) -> LuaModule {
        var module = self
        module.functions.append((name, .sync(body)))
        return module
    }

    public func asyncFunction(_ name: String, _ body: @escaping AsyncFunction) -> LuaModule {
        var module = self
        module.functions.append((name, .async(body)))
        return module
    }
}

/// A Swift error with a message, for host functions that reject their input.
public struct LuaFunctionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
