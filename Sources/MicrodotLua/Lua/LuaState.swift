import CLua
import CLuaRuntime

/// A Lua state owned by one thread. Every call into Lua from Swift is
/// protected (`lua_pcall`/`lua_resume`), so a Lua error never unwinds Swift.
final class LuaState {
    let L: OpaquePointer
    /// Shared with C: the owner, the memory count and limit, the time budget.
    let context: UnsafeMutablePointer<mdl_context>

    /// `memoryLimit` bytes (0: none) caps what the state may allocate;
    /// `budget` seconds (0: none) caps how long Lua may run between yields.
    init(memoryLimit: Int = 0, budget: Double = 0) {
        context = .allocate(capacity: 1)
        context.initialize(to: mdl_context())
        guard let state = mdl_newstate(context) else { fatalError("Lua could not allocate a state") }
        L = state
        luaL_openlibs(L)
        context.pointee.limit = memoryLimit
        context.pointee.budget = budget
        if budget > 0 { mdl_budget_register(context) }
    }

    deinit {
        if context.pointee.budget > 0 { mdl_budget_unregister(context) }
        lua_close(L)
        context.deallocate()
    }

    var worker: UnsafeMutableRawPointer? {
        get { context.pointee.worker }
        set { context.pointee.worker = newValue }
    }

    /// The last `runProtected` ran past its budget and was stopped for good.
    var lastSliceAbandoned: Bool { context.pointee.abandoned != 0 }

    /// Runs `body`, a protected call into Lua (`lua_pcall` on the state, or
    /// `lua_resume` of the coroutine `running`), as a budgeted slice:
    /// allocations may fail there (as memory errors Lua catches), and the
    /// outermost slice must end within the time budget (lua_budget.h).
    func runProtected<T>(on running: OpaquePointer, _ body: () -> T) -> T {
        mdl_slice_enter(running)
        defer { mdl_slice_leave(running) }
        return body()
    }

    /// Loads `source` as a chunk named `chunkName` and runs it with `arguments`
    /// pushed by the caller (already on the stack, above nothing else).
    /// Leaves `results` values on the stack.
    func run(source: [UInt8], chunkName: String, arguments: Int32 = 0, results: Int32 = 0) throws {
        let base = lua_gettop(L) - arguments
        lua_pushcclosure(L, mdl_traceback, 0)
        mdl_insert(L, base + 1)
        let loaded = source.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                mdl_loadbuffer(L, $0, buffer.count, chunkName)
            }
        }
        guard loaded == LUA_OK else {
            let message = LuaStack(L).string(at: -1) ?? "could not load \(chunkName)"
            lua_settop(L, base)
            throw LuaError(message: message)
        }
        mdl_insert(L, base + 2)
        let status = runProtected(on: L) { mdl_pcall(L, arguments, results, base + 1) }
        guard status == LUA_OK else {
            let message = LuaStack(L).string(at: -1) ?? "error in \(chunkName)"
            lua_settop(L, base)
            throw LuaError(message: message)
        }
        mdl_remove(L, base + 1)
    }

    /// Anchors the value on top of the stack in the registry (popping it).
    func reference() -> Int32 {
        luaL_ref(L, mdl_registryindex())
    }

    func release(_ reference: Int32) {
        luaL_unref(L, mdl_registryindex(), reference)
    }
}
