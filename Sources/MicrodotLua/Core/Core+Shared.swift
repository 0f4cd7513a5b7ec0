import CLua
import CLuaRuntime

/// `core.shared_get/set/incr/delete`, behind `microdot.shared`: thin
/// functions over the server's `SharedStore` (modelled on OpenResty's
/// `ngx.shared.DICT`).
enum CoreShared: CoreArea {
    static func register(in core: CoreTable) {
        core.set("shared_get", get)
        core.set("shared_set", set)
        core.set("shared_incr", increment)
        core.set("shared_delete", delete)
    }

    private static func key(_ L: OpaquePointer) -> String? {
        LuaStack(L).string(at: 1)
    }

    /// `core.shared_get(key)`: the value, or nil.
    private static let get: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return LuaStack(L).raise("shared:get expects a string key") }
        let worker = Worker.from(L)
        worker.push(worker.shared.get(key) ?? .nil, on: L)
        return 1
    }

    /// `core.shared_set(key, value [, ttl])`: true; `ttl` in seconds.
    private static let set: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return LuaStack(L).raise("shared:set expects a string key") }
        var ttl: Double?
        switch lua_type(L, 3) {
        case LUA_TNIL, LUA_TNONE:
            break
        case LUA_TNUMBER where mdl_tonumber(L, 3) > 0:
            ttl = mdl_tonumber(L, 3)
        default:
            return LuaStack(L).raise("shared:set expects a positive ttl in seconds")
        }
        do {
            try Worker.from(L).shared.set(key, try LuaStack(L).luaValue(at: 2), ttl: ttl)
        } catch {
            return LuaStack(L).raise("shared:set stores strings, numbers and booleans")
        }
        lua_pushboolean(L, 1)
        return 1
    }

    /// `core.shared_incr(key [, amount [, initial]])`: the new value, or nil
    /// and "not found" when the key is missing and there is no `initial`.
    private static let increment: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return LuaStack(L).raise("shared:incr expects a string key") }
        var amount = LuaValue.integer(1)
        if lua_type(L, 2) == LUA_TNUMBER {
            amount = (try? LuaStack(L).luaValue(at: 2)) ?? amount
        } else if lua_type(L, 2) > LUA_TNIL {
            return LuaStack(L).raise("shared:incr expects a number to add")
        }
        var initial: LuaValue?
        if lua_type(L, 3) == LUA_TNUMBER {
            initial = try? LuaStack(L).luaValue(at: 3)
        } else if lua_type(L, 3) > LUA_TNIL {
            return LuaStack(L).raise("shared:incr expects a number as the initial value")
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
            return LuaStack(L).raise("shared:incr: the value of \(key) is not a number")
        }
    }

    /// `core.shared_delete(key)`.
    private static let delete: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return LuaStack(L).raise("shared:delete expects a string key") }
        Worker.from(L).shared.delete(key)
        return 0
    }
}
