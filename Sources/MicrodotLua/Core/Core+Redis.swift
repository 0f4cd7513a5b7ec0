import CLua
import CLuaRuntime
import NIOCore

/// `microdot.redis`'s way into the host (the Lua side is
/// microdot/redis.lua). Each call returns a ticket that `microdot.coroutine`'s
/// `await` waits on: the request suspends, or, with `blocking` (the
/// script's top level, code that cannot yield), the thread waits while the
/// I/O runs on another loop.
enum CoreRedis: CoreArea {
    static func register(in core: CoreTable) {
        core.set("redis_setup", setup)
        core.set("redis_endpoint", endpoint)
        core.set("redis_call", call)
        core.set("redis_pipeline", pipeline)
        core.set("redis_subscribe", subscribe)
        core.set("redis_take", take)
        core.set("redis_wait", wait)
        core.set("redis_close", close)
        core.set("redis_dropped", dropped)
    }

    /// `redis_setup(null, RedisError)`: what replies are built with.
    private static let setup: mdl_SwiftFunction = { L in
        let L = L!
        let redis = Worker.from(L).redis
        lua_settop(L, 2)
        redis.errorClassReference = luaL_ref(L, mdl_registryindex())
        redis.nullReference = luaL_ref(L, mdl_registryindex())
        return 0
    }

    /// `redis_endpoint(host, port, user, password, db, pool_size,
    /// connect_timeout, timeout)` (checked by redis.lua) → its number.
    private static let endpoint: mdl_SwiftFunction = { L in
        let L = L!
        let stack = LuaStack(L)
        let endpoint = RedisEndpoint(
            host: stack.string(at: 1) ?? "127.0.0.1", port: Int(mdl_tointegerx(L, 2, nil)),
            user: stack.string(at: 3), password: stack.string(at: 4), database: Int(mdl_tointegerx(L, 5, nil)),
            poolSize: Int(mdl_tointegerx(L, 6, nil)), connectTimeout: mdl_tonumber(L, 7), timeout: mdl_tonumber(L, 8))
        lua_pushinteger(L, lua_Integer(Worker.from(L).redis.register(endpoint)))
        return 1
    }

    /// A new async call and its ticket.
    private static func newCall(_ worker: Worker) -> (AsyncCall, Int) {
        let call = AsyncCall()
        let ticket = worker.nextTicket
        worker.nextTicket += 1
        worker.asyncCalls[ticket] = call
        return (call, ticket)
    }

    private static func pool(_ L: OpaquePointer, _ worker: Worker) -> RedisPool? {
        worker.redis.pool(
            Int(mdl_tointegerx(L, 1, nil)), worker: worker, blocking: lua_toboolean(L, 2) != 0)
    }

    /// Runs `body` on `loop`: now when this is its thread.
    private static func on(_ loop: EventLoop, _ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// Sends `command` on `pool`; the ticket's call ends with the replies.
    private static func send(
        _ command: ByteBuffer, replies: Int, asArray: Bool, pool: RedisPool, worker: Worker, L: OpaquePointer
    ) -> Int32 {
        let (call, ticket) = newCall(worker)
        let server = pool.server
        on(pool.loop) {
            pool.execute(command, replies: replies) { result in
                call.complete(
                    outcome: result.map { replies in
                        let pushable = RedisReplies(replies: replies, server: server, asArray: asArray)
                        return .push { worker, L in pushable.push(on: L, worker: worker) }
                    }
                    .mapError { $0 })
            }
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    /// nil and `problem`: redis.lua raises it at the caller's line.
    private static func refuse(_ L: OpaquePointer, _ problem: String) -> Int32 {
        lua_pushnil(L)
        LuaStack(L).push(problem)
        return 2
    }

    /// `redis_call(endpoint, blocking, name, args...)` → ticket (or nil and
    /// what is wrong with an argument); the call
    /// ends with the reply (an error reply as a RedisError, not raised).
    private static let call: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard let pool = pool(L, worker) else { return LuaStack(L).raise("unknown Redis endpoint") }
        var command = ByteBufferAllocator().buffer(capacity: 64)
        if let problem = RedisCommand.append(L, from: 3, count: lua_gettop(L) - 2, into: &command) {
            return refuse(L, problem)
        }
        return send(command, replies: 1, asArray: false, pool: pool, worker: worker, L: L)
    }

    /// `redis_pipeline(endpoint, blocking, {{name, args...}, ...})` → ticket;
    /// the call ends with the array of replies.
    private static let pipeline: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        guard let pool = pool(L, worker) else { return LuaStack(L).raise("unknown Redis endpoint") }
        let count = Int(lua_rawlen(L, 3))
        var command = ByteBufferAllocator().buffer(capacity: 64 * max(count, 1))
        for index in 0..<count {
            lua_rawgeti(L, 3, lua_Integer(index + 1))
            let entry = lua_gettop(L)
            let arguments = Int32(lua_rawlen(L, entry))
            _ = lua_checkstack(L, arguments + 1)
            for argument in 0..<arguments { lua_rawgeti(L, entry, lua_Integer(argument + 1)) }
            if let problem = RedisCommand.append(L, from: entry + 1, count: arguments, into: &command) {
                return refuse(L, "command \(index + 1): \(problem)")
            }
            lua_settop(L, entry - 1)
        }
        guard count > 0 else {
            lua_pushnil(L)
            return 1
        }
        return send(command, replies: count, asArray: true, pool: pool, worker: worker, L: L)
    }

    /// `redis_subscribe(endpoint, blocking, channels...)` → ticket; the call
    /// ends with the subscription's number once every channel is confirmed.
    private static let subscribe: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let redis = worker.redis
        let id = Int(mdl_tointegerx(L, 1, nil))
        guard redis.endpoints.indices.contains(id - 1) else { return LuaStack(L).raise("unknown Redis endpoint") }
        let blocking = lua_toboolean(L, 2) != 0 || worker.eventLoop == nil
        let channels = (3...max(3, lua_gettop(L))).compactMap { LuaStack(L).string(at: $0) }
        let loop: EventLoop = blocking ? RedisClients.blockingLoop : worker.eventLoop
        let subscription = RedisSubscription(endpoint: redis.endpoints[id - 1], loop: loop)
        let number = redis.nextSubscription
        redis.nextSubscription += 1
        redis.subscriptions[number] = subscription
        if !blocking && worker.currentRequest != 0 {
            // One made in a request closes when the request ends (section 16).
            worker.requestEndActions[worker.currentRequest, default: []].append { [weak redis] in
                redis?.subscriptions.removeValue(forKey: number)?.close()
            }
        }
        let (call, ticket) = newCall(worker)
        on(loop) {
            subscription.start(channels: channels) { result in
                call.complete(outcome: result.map { .value(.integer(number)) }.mapError { $0 })
            }
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    private static func subscription(_ L: OpaquePointer) -> RedisSubscription? {
        Worker.from(L).redis.subscriptions[Int(mdl_tointegerx(L, 1, nil))]
    }

    /// `redis_take(sub)` → message, channel; or nil and "empty", "closed",
    /// or "failed" and why.
    private static let take: mdl_SwiftFunction = { L in
        let L = L!
        guard let subscription = subscription(L) else {
            lua_pushnil(L)
            LuaStack(L).push("closed")
            return 2
        }
        switch subscription.take() {
        case .message(let message, let channel):
            message.withUnsafeBytes { LuaStack(L).push(bytes: $0) }
            channel.withUnsafeBytes { LuaStack(L).push(bytes: $0) }
            return 2
        case .empty:
            lua_pushnil(L)
            LuaStack(L).push("empty")
            return 2
        case .closed:
            lua_pushnil(L)
            LuaStack(L).push("closed")
            return 2
        case .failed(let failure):
            lua_pushnil(L)
            LuaStack(L).push("failed")
            LuaStack(L).push(failure.description)
            return 3
        }
    }

    /// `redis_wait(sub, timeout)` → ticket; the call ends with true when
    /// there is something to take, false at the timeout (nil: none).
    private static let wait: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let (call, ticket) = newCall(worker)
        if let subscription = subscription(L) {
            let timeout = lua_type(L, 2) == LUA_TNUMBER ? mdl_tonumber(L, 2) : nil
            subscription.wait(timeout: timeout) { ready in call.complete(outcome: .success(.value(.boolean(ready)))) }
        } else {
            call.complete(outcome: .success(.value(.boolean(true))))
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    /// `redis_close(sub)`.
    private static let close: mdl_SwiftFunction = { L in
        let L = L!
        Worker.from(L).redis.subscriptions.removeValue(forKey: Int(mdl_tointegerx(L, 1, nil)))?.close()
        return 0
    }

    /// `redis_dropped(sub)` → how many messages were dropped unread.
    private static let dropped: mdl_SwiftFunction = { L in
        let L = L!
        lua_pushinteger(L, lua_Integer(subscription(L)?.droppedCount ?? 0))
        return 1
    }
}
