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
        L.pushFunction(encode)
        L.setField("encode", at: json)
        lua_pushlightuserdata(L, nil)
        L.setField("null", at: json)
        lua_createtable(L, 0, 1)
        L.push("array")
        L.setField("__jsontype")
        lua_pushvalue(L, -1)
        core.setTop(as: "json_array_mt")
        lua_pushvalue(L, -1)
        core.worker.arrayMetatable = core.worker.lua.reference()
        L.pushFunction(decode, upvalues: 1)
        L.setField("decode", at: json)
        core.setTop(as: "json")
    }

    /// `json.encode(value)`: the JSON text of `value`.
    private static let encode: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        do {
            try LuaJSON.encode(L, at: 1, into: &worker.jsonScratch)
            worker.jsonScratch.withUnsafeBytes { L.push(bytes: $0) }
            if worker.jsonScratch.capacity > 64 * 1024 { worker.jsonScratch = [] }
            return 1
        } catch {
            return L.raise((error as? LuaJSON.Failure)?.message ?? "\(error)")
        }
    }

    /// `json.decode(text)`: the value; arrays get the array metatable
    /// (upvalue 1).
    private static let decode: mdl_SwiftFunction = { L in
        let L = L!
        do {
            guard
                let result: Void = try L.withBytes(
                    at: 1,
                    { bytes in
                        try LuaJSON.decode(L, bytes, arrayMetatable: mdl_upvalueindex(1))
                    })
            else {
                return L.raise("json.decode expects a string")
            }
            _ = result
            return 1
        } catch {
            return L.raise((error as? LuaJSON.Failure)?.message ?? "\(error)")
        }
    }
}
