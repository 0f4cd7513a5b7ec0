import Logging

extension MicrodotApp {
    /// Runs the script with `require("microdot")` available but serves
    /// nothing: how Lua test scripts built on `microdot.test_client` run.
    /// An error the script raises is thrown as a `LuaError`, with its traceback.
    public func runScript(logger: Logger = Logger(label: "microdot-lua")) throws {
        _ = try Worker(app: self, logger: logger, mode: .runScript)
    }
}
