import CLua
import CLuaRuntime

/// `core.json` (`encode`, `decode`, `null`) and `core.json_array_mt`, the
/// metatable that marks a table as a JSON array; `microdot.json` is built on
/// them. The codec itself is `LuaJSON`.
enum CoreJSON: CoreArea {
    static func register(in core: CoreTable) {
        let L = core.L
        lua_createtable(L, 0, 3)
        let json = lua_gettop(L)
        LuaStack(L).pushFunction(encode)
        LuaStack(L).setField("encode", at: json)
        lua_pushlightuserdata(L, nil)
        LuaStack(L).setField("null", at: json)
        lua_createtable(L, 0, 1)
        LuaStack(L).push("array")
        LuaStack(L).setField("__jsontype")
        lua_pushvalue(L, -1)
        core.setTop(as: "json_array_mt")
        lua_pushvalue(L, -1)
        core.worker.arrayMetatable = core.worker.lua.reference()
        LuaStack(L).pushFunction(decode, upvalues: 1)
        LuaStack(L).setField("decode", at: json)
        core.setTop(as: "json")
    }

    /// `json.encode(value)`: the JSON text of `value`.
    private static let encode: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        do {
            try LuaJSON.encode(L, at: 1, using: worker.jsonBuffer)
            return 1
        } catch {
            return LuaStack(L).raise((error as? LuaJSON.Failure)?.message ?? "\(error)")
        }
    }

    /// `json.decode(text)`: the value; arrays get the array metatable
    /// (upvalue 1).
    private static let decode: mdl_SwiftFunction = { L in
        let L = L!
        do {
            let decoded: Void? = try LuaStack(L).withBytes(at: 1) { bytes in
                try LuaJSON.decode(L, bytes, arrayMetatable: mdl_upvalueindex(1))
            }
            guard decoded != nil else {
                return LuaStack(L).raise("json.decode expects a string")
            }
            return 1
        } catch {
            return LuaStack(L).raise((error as? LuaJSON.Failure)?.message ?? "\(error)")
        }
    }
}
