import CLua

/// `microdot.shared` in Lua: thin functions over the server's `SharedStore`.
extension Worker {
    private static func key(_ L: OpaquePointer) -> String? {
        L.string(at: 1)
    }

    static let sharedGet: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return L.raise("shared:get expects a string key") }
        let worker = Worker.from(L)
        worker.push(worker.shared.get(key) ?? .nil, on: L)
        return 1
    }

    static let sharedSet: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return L.raise("shared:set expects a string key") }
        var ttl: Double?
        switch lua_type(L, 3) {
        case LUA_TNIL, LUA_TNONE:
            break
        case LUA_TNUMBER where mdl_tonumber(L, 3) > 0:
            ttl = mdl_tonumber(L, 3)
        default:
            return L.raise("shared:set expects a positive ttl in seconds")
        }
        do {
            try Worker.from(L).shared.set(key, try L.luaValue(at: 2), ttl: ttl)
        } catch {
            return L.raise("shared:set stores strings, numbers and booleans")
        }
        lua_pushboolean(L, 1)
        return 1
    }

    static let sharedIncrement: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return L.raise("shared:incr expects a string key") }
        var amount = LuaValue.integer(1)
        if lua_type(L, 2) == LUA_TNUMBER {
            amount = (try? L.luaValue(at: 2)) ?? amount
        } else if lua_type(L, 2) > LUA_TNIL {
            return L.raise("shared:incr expects a number to add")
        }
        var initial: LuaValue?
        if lua_type(L, 3) == LUA_TNUMBER {
            initial = try? L.luaValue(at: 3)
        } else if lua_type(L, 3) > LUA_TNIL {
            return L.raise("shared:incr expects a number as the initial value")
        }
        let worker = Worker.from(L)
        do {
            worker.push(try worker.shared.increment(key, by: amount, initial: initial), on: L)
            return 1
        } catch SharedStore.IncrementError.notFound {
            lua_pushnil(L)
            L.push("not found")
            return 2
        } catch {
            return L.raise("shared:incr: the value of \(key) is not a number")
        }
    }

    static let sharedDelete: mdl_SwiftFunction = { L in
        let L = L!
        guard let key = key(L) else { return L.raise("shared:delete expects a string key") }
        Worker.from(L).shared.delete(key)
        return 0
    }
}
