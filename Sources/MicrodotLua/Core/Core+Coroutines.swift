import CLua
import CLuaRuntime

/// The host protocol's constants (`core.SUSPEND`, `SLEEP`, `AWAIT`,
/// `BODY_WAIT`, `BODY_TOO_LARGE`: see `HostProtocol`), and `core.resume`, the `coroutine.resume` the framework installs: it records
/// which coroutine runs so that the time budget can stop a runaway inside a
/// nested coroutine too.
enum CoreCoroutines: CoreArea {
    static func register(in core: CoreTable) {
        HostProtocol.publish(core.L, into: core.index)
        lua_pushcclosure(core.L, mdl_coresume, 0)
        core.setTop(as: "resume")
    }
}
