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
    /// A synchronous function: the Lua arguments in order (missing trailing
    /// ones are absent, a nil in between is `.nil`), one result. A thrown
    /// error is raised in Lua with the error's description as message.
    public typealias Function = @Sendable ([LuaValue]) throws -> LuaValue
    /// An async function: runs as a Swift task while the calling request's
    /// coroutine is suspended (the other requests of its worker go on); the
    /// task is cancelled when the connection closes first.
    public typealias AsyncFunction = @Sendable ([LuaValue]) async throws -> LuaValue

    enum Body: Sendable {
        case sync(Function)
        case async(AsyncFunction)
    }

    /// The name `require` takes; it shadows a Lua module of the same name.
    public let name: String
    private(set) var functions: [(name: String, body: Body)] = []

    /// An empty module named `name`; add functions with `function(_:_:)` and
    /// `asyncFunction(_:_:)`.
    public init(_ name: String) {
        self.name = name
    }

    /// This module with a synchronous function `name` added. It runs on the
    /// worker's event loop, so it should not block.
    public func function(_ name: String, _ body: @escaping Function) -> LuaModule {
        var module = self
        module.functions.append((name, .sync(body)))
        return module
    }

    /// This module with an async function `name` added; in Lua it looks
    /// like a plain call that returns the result. Outside a request (at the
    /// script's top level) the call blocks until the task is done.
    public func asyncFunction(_ name: String, _ body: @escaping AsyncFunction) -> LuaModule {
        var module = self
        module.functions.append((name, .async(body)))
        return module
    }
}

/// A Swift error with a message, for host functions that reject their input.
public struct LuaFunctionError: Error, CustomStringConvertible {
    /// The message, which is the Lua error's message.
    public let description: String
    /// An error whose Lua message is `message`.
    public init(_ message: String) { description = message }
}
