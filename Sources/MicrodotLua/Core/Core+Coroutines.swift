import CLua
import CLuaRuntime

/// `core.SUSPEND`, the first value a request yields to ask the host to
/// suspend it (for `microdot.sleep` or an async Swift function), and
/// `core.resume`, the `coroutine.resume` the framework installs: it records
/// which coroutine runs so that the time budget can stop a runaway inside a
/// nested coroutine too.
enum CoreCoroutines: CoreArea {
    static func register(in core: CoreTable) {
        lua_pushlightuserdata(core.L, Worker.suspendMarker)
        core.setTop(as: "SUSPEND")
        lua_pushcclosure(core.L, mdl_coresume, 0)
        core.setTop(as: "resume")
    }
}
