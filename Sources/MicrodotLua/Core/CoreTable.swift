import CLua
import CLuaRuntime

/// The `core` table a worker gives the Lua framework (the `...` of
/// microdot.lua), while it is being built. Each file under Core/ is one area
/// of it and adds its own entries; `Worker.pushCore` lists the areas. This is
/// how lua-nginx-module builds `ngx`: one `inject_*_api` per source file.
struct CoreTable {
    let worker: Worker
    let L: OpaquePointer
    /// Where the table is on `L`'s stack (an absolute index).
    let index: Int32

    /// Sets `core[name]` to a Swift function.
    func set(_ name: String, _ function: mdl_SwiftFunction) {
        LuaStack(L).pushFunction(function)
        LuaStack(L).setField(name, at: index)
    }

    /// Sets `core[name]` to the value on top of the stack, popping it.
    func setTop(as name: String) {
        LuaStack(L).setField(name, at: index)
    }
}

/// One area of the `core` table (a caseless enum, so Sendable: the list of
/// areas is a static constant).
protocol CoreArea: Sendable {
    static func register(in core: CoreTable)
}
