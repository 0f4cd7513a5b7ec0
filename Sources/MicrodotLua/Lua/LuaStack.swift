import CLua
import CLuaRuntime

/// A Lua stack, of the main state or of a coroutine's thread, with the
/// reads and pushes the host makes on it. A view over the `lua_State`
/// pointer (no ownership, no cost): every function Lua calls gets one as
/// `LuaStack(L)`, and `L` stays at hand for the C API itself.
struct LuaStack {
    /// The `lua_State *` of the thread whose stack this is.
    let L: OpaquePointer

    init(_ L: OpaquePointer) {
        self.L = L
    }

    /// The string at `index` when it is one (numbers are not converted, which
    /// would allocate and could raise).
    func string(at index: Int32) -> String? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let pointer = mdl_tolstring(L, index, &length) else { return nil }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// The bytes of the string at `index`, borrowed for the closure's duration.
    @discardableResult
    func withBytes<T>(at index: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let pointer = mdl_tolstring(L, index, &length) else { return nil }
        return try body(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// Pushes `string`'s UTF-8 bytes.
    func push(_ string: String) {
        var string = string
        _ = string.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    /// Pushes `bytes` as a Lua string.
    func push(bytes: UnsafeRawBufferPointer) {
        lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    /// Pushes an error message and returns the marker that makes the
    /// trampoline raise it.
    func raise(_ message: String) -> Int32 {
        push(message)
        return MDL_RAISE
    }

    /// Pushes a Swift function as a Lua C function (through the protected
    /// trampoline), with `upvalues` values from the top of the stack.
    func pushFunction(_ function: mdl_SwiftFunction, upvalues: Int32 = 0) {
        mdl_pushswiftfunction(L, function, upvalues)
    }

    /// `t[name] = top` for the table at `index`, popping the value; may run
    /// a `__newindex` metamethod.
    func setField(_ name: String, at index: Int32 = -2) {
        lua_setfield(L, index, name)
    }

    /// Raw field read: never runs a metamethod, so it cannot raise.
    @discardableResult
    func rawField(_ name: StaticString, of index: Int32) -> Int32 {
        let table = lua_absindex(L, index)
        _ = name.withUTF8Buffer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
        return lua_rawget(L, table)
    }

    /// The value at `index` as an error message shows it: `the number 42`,
    /// `the string "abc"` (escaped, cut after 40 characters), `a boolean
    /// (true)`, `nil`, `a table`. Runs no metamethod and converts nothing.
    func describe(at index: Int32) -> String {
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE:
            return "nil"
        case LUA_TNUMBER:
            if mdl_isinteger(L, index) != 0 { return "the number \(mdl_tointegerx(L, index, nil))" }
            return "the number \(mdl_tonumber(L, index))"
        case LUA_TSTRING:
            let text = string(at: index) ?? ""
            let shown = text.count > 40 ? String(text.prefix(40)) + "..." : text
            return "the string \(String(reflecting: shown))"
        case LUA_TBOOLEAN:
            return "a boolean (\(lua_toboolean(L, index) != 0))"
        default:
            return "a " + String(cString: lua_typename(L, lua_type(L, index)))
        }
    }
}
