import CLua
import CLuaRuntime

/// `core.shared_endpoint/encode/decode`, behind `microdot.shared` under
/// `--shared` (microdot/shared_redis.lua sends the commands through the
/// worker's `microdot.redis` pool; these only say where, and turn values
/// into bytes and back with `SharedValueCodec`).
enum CoreSharedRedis: CoreArea {
    static func register(in core: CoreTable) {
        core.set("shared_endpoint", endpoint)
        core.set("shared_encode", encode)
        core.set("shared_decode", decode)
    }

    /// `core.shared_endpoint()` → the `--shared` server's `microdot.redis`
    /// endpoint number, or nil when the store is the process's own (no
    /// `--shared`, or a `--test` script).
    private static let endpoint: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard let remote = worker.pubsub.hub.remote else {
            lua_pushnil(L)
            return 1
        }
        lua_pushinteger(L, lua_Integer(worker.redis.register(remote)))
        LuaStack(L).push(remote.server)
        return 2
    }

    /// `core.shared_encode(name, key, value)` → the bytes to store; or
    /// false, "no memory" for an entry bigger than `--shared-size` (as the
    /// local store refuses it); or nil and what is wrong with the value.
    private static let encode: mdl_SwiftFunction = { L in
        let L = L!
        let name = LuaStack(L).string(at: 1) ?? "set"
        let keyLength = LuaStack(L).withBytes(at: 2) { $0.count } ?? 0
        let value: LuaValue
        do {
            value = try LuaStack(L).luaValue(at: 3)
        } catch {
            lua_pushnil(L)
            LuaStack(L).push("shared:\(name) stores strings, numbers, booleans and tables of those (\(error))")
            return 2
        }
        guard let size = SharedStore.size(of: value) else {
            lua_pushnil(L)
            LuaStack(L).push("shared:\(name) stores strings, numbers, booleans and tables of those")
            return 2
        }
        if keyLength + size + SharedStore.entryOverhead > Worker.from(L).shared.capacity {
            lua_pushboolean(L, 0)
            LuaStack(L).push("no memory")
            return 2
        }
        SharedValueCodec.encode(value).withUnsafeBytes { LuaStack(L).push(bytes: $0) }
        return 1
    }

    /// `core.shared_decode(bytes)` → the value; or nil and why the bytes
    /// are not a value `microdot.shared` stored.
    private static let decode: mdl_SwiftFunction = { L in
        let L = L!
        guard let bytes = LuaStack(L).withBytes(at: 1, { Array($0) }) else {
            lua_pushnil(L)
            return 1
        }
        do throws(SharedValueCodec.Invalid) {
            let worker = Worker.from(L)
            worker.push(try SharedValueCodec.decode(bytes), on: L)
            return 1
        } catch {
            lua_pushnil(L)
            LuaStack(L).push(error.description)
            return 2
        }
    }
}
