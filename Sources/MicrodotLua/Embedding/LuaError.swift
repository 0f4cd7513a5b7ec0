/// A Lua app that cannot start: its script cannot be read or does not load,
/// raises an error while its top level runs, neither returns an app nor
/// calls `app:run()`, or one of its `LuaModule` functions cannot be
/// registered. `MicrodotServer.start`, `MicrodotTestClient.init` and
/// `MicrodotApp.runScript` throw it.
public struct LuaError: Error, CustomStringConvertible {
    /// What went wrong; Lua's own messages name the chunk and line
    /// ("app.lua:3: ..."), followed by a traceback when the error was raised
    /// while running.
    public let message: String
    /// The message.
    public var description: String { message }
}
