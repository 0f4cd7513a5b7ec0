import CLua
import CLuaRuntime

/// `core.shared_get/set/incr/delete/keys/...`, behind `microdot.shared`:
/// thin functions over the server's `SharedStore` (modelled on OpenResty's
/// `ngx.shared.DICT`). Keys stay bytes from Lua to the store.
enum CoreShared: CoreArea {
    static func register(in core: CoreTable) {
        core.set("shared_get", get)
        core.set("shared_set", set)
        core.set("shared_add", add)
        core.set("shared_replace", replace)
        core.set("shared_incr", increment)
        core.set("shared_delete", delete)
        core.set("shared_keys", keys)
        core.set("shared_space", space)
    }

    /// Raises `message` prefixed with the script's file:line (the caller of
    /// `shared:NAME`, which tail-calls these functions).
    private static func raise(_ L: OpaquePointer, _ message: String) -> Int32 {
        luaL_where(L, 2)
        LuaStack(L).push(message)
        lua_concat(L, 2)
        return MDL_RAISE
    }

    private static func key(_ L: OpaquePointer) -> SharedStore.Key? {
        LuaStack(L).withBytes(at: 1) { Array($0) }
    }

    /// `core.shared_get(key)`: the value, or nil.
    private static let get: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return raise(L, "shared:get expects a string key") }
        let worker = Worker.from(L)
        worker.push(worker.shared.get(key) ?? .nil, on: L)
        return 1
    }

    private static let set: mdl_SwiftFunction = { L in store(L!, mode: .set, name: "set") }
    private static let add: mdl_SwiftFunction = { L in store(L!, mode: .add, name: "add") }
    private static let replace: mdl_SwiftFunction = { L in store(L!, mode: .replace, name: "replace") }

    /// `core.shared_set/add/replace(key, value [, ttl])`: as OpenResty,
    /// `true, nil, forcible`, or `false, err, false` ("exists", "not found",
    /// "no memory"); `ttl` in seconds.
    private static func store(_ L: OpaquePointer, mode: SharedStore.Mode, name: String) -> Int32 {
        guard let key = key(L) else { return raise(L, "shared:\(name) expects a string key") }
        var ttl: Double?
        switch lua_type(L, 3) {
        case LUA_TNIL, LUA_TNONE:
            break
        case LUA_TNUMBER where mdl_tonumber(L, 3) > 0:
            ttl = mdl_tonumber(L, 3)
        default:
            return raise(L, "shared:\(name) expects a positive ttl in seconds")
        }
        let value: LuaValue
        do {
            value = try LuaStack(L).luaValue(at: 2)
        } catch {
            return raise(
                L,
                "shared:\(name) stores strings, numbers, booleans and tables of those (\(error))")
        }
        do {
            let forcible = try Worker.from(L).shared.store(key, value, ttl: ttl, mode: mode)
            lua_pushboolean(L, 1)
            lua_pushnil(L)
            lua_pushboolean(L, forcible ? 1 : 0)
        } catch let error as SharedStore.WriteError {
            lua_pushboolean(L, 0)
            LuaStack(L).push(error.description)
            lua_pushboolean(L, 0)
        } catch {
            return raise(L, "shared:\(name) stores strings, numbers, booleans and tables of those")
        }
        return 3
    }

    /// `core.shared_incr(key [, amount [, initial]])`: the new value, or nil
    /// and "not found" when the key is missing and there is no `initial`.
    private static let increment: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return raise(L, "shared:incr expects a string key") }
        var amount = LuaValue.integer(1)
        if lua_type(L, 2) == LUA_TNUMBER {
            amount = (try? LuaStack(L).luaValue(at: 2)) ?? amount
        } else if lua_type(L, 2) > LUA_TNIL {
            return raise(L, "shared:incr expects a number to add")
        }
        var initial: LuaValue?
        if lua_type(L, 3) == LUA_TNUMBER {
            initial = try? LuaStack(L).luaValue(at: 3)
        } else if lua_type(L, 3) > LUA_TNIL {
            return raise(L, "shared:incr expects a number as the initial value")
        }
        let worker = Worker.from(L)
        do {
            worker.push(try worker.shared.increment(key, by: amount, initial: initial), on: L)
            return 1
        } catch SharedStore.IncrementError.notFound {
            lua_pushnil(L)
            LuaStack(L).push("not found")
            return 2
        } catch {
            return raise(
                L,
                "shared:incr: the value of \(String(decoding: key, as: UTF8.self)) is not a number")
        }
    }

    /// `core.shared_delete(key)`.
    private static let delete: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return raise(L, "shared:delete expects a string key") }
        Worker.from(L).shared.delete(key)
        return 0
    }

    /// `core.shared_keys([limit])`: an array of the live keys (default at
    /// most 1024; 0: all).
    private static let keys: mdl_SwiftFunction = { L in
        let L = L!
        var limit = 1024
        if lua_type(L, 1) == LUA_TNUMBER {
            let number = mdl_tonumber(L, 1)
            guard number >= 0 else { return raise(L, "shared:keys expects a number of keys from 0 (all) up") }
            // More than the store can hold is all of them.
            limit = number < 1e9 ? Int(number) : 0
        } else if lua_type(L, 1) > LUA_TNIL {
            return raise(L, "shared:keys expects a number, the most keys to return (0: all)")
        }
        let keys = Worker.from(L).shared.keys(limit: limit)
        lua_createtable(L, Int32(min(keys.count, Int(Int32.max))), 0)
        for (offset, key) in keys.enumerated() {
            key.withUnsafeBytes { LuaStack(L).push(bytes: $0) }
            lua_rawseti(L, -2, lua_Integer(offset + 1))
        }
        return 1
    }

    /// `core.shared_space()`: capacity and free bytes.
    private static let space: mdl_SwiftFunction = { L in
        let L = L!
        let shared = Worker.from(L).shared
        lua_pushinteger(L, lua_Integer(shared.capacity))
        lua_pushinteger(L, lua_Integer(shared.freeSpace))
        return 2
    }
}
