import CLua
import CRedis
import NIOCore
import NIOPosix

/// A worker's Redis side: the endpoints `redis.connect` registered, their
/// pools (opened on first use), the subscriptions, and the registry
/// references the replies are built with. Only the worker's thread uses it.
final class RedisClients {
    private(set) var endpoints: [RedisEndpoint] = []
    private var endpointIDs: [RedisEndpoint: Int] = [:]
    /// Pools on the worker's loop, for calls a request makes.
    private var pools: [Int: RedisPool] = [:]
    /// Pools on a loop of their own, for calls that block the worker's
    /// thread (the script's top level, `--test` scripts): the worker's own
    /// loop cannot read a reply while its thread waits for it.
    private var blockingPools: [Int: RedisPool] = [:]
    var subscriptions: [Int: RedisSubscription] = [:]
    var nextSubscription = 1

    /// Registry references: `microdot.json.null` and the RedisError class.
    var nullReference = LUA_NOREF
    var errorClassReference = LUA_NOREF

    deinit {
        // Only the blocking loop surely still runs: the worker's own closes
        // its connections when it shuts down.
        closeBlockingPools()
    }

    /// Closes the blocking pools (their connections served the top level).
    func closeBlockingPools() {
        for pool in blockingPools.values { pool.loop.execute { pool.shutDown() } }
        blockingPools = [:]
    }

    /// A loop for blocking calls: NIO's shared group, never a worker's.
    static var blockingLoop: EventLoop { MultiThreadedEventLoopGroup.singleton.next() }

    /// The number `endpoint` goes by in Lua; the same endpoint (URL and
    /// options) always gets the same one, so its pool is shared.
    func register(_ endpoint: RedisEndpoint) -> Int {
        if let id = endpointIDs[endpoint] { return id }
        endpoints.append(endpoint)
        endpointIDs[endpoint] = endpoints.count
        return endpoints.count
    }

    /// The pool calls of endpoint `id` go to: the worker loop's when it can
    /// wait (`blocking` false, the worker serving), else the blocking one.
    func pool(_ id: Int, worker: Worker, blocking: Bool) -> RedisPool? {
        guard endpoints.indices.contains(id - 1) else { return nil }
        if !blocking, let loop = worker.eventLoop {
            if let pool = pools[id] { return pool }
            let pool = RedisPool(endpoint: endpoints[id - 1], loop: loop)
            pools[id] = pool
            // The top level's connection is not needed any more: the pool
            // alone counts against pool_size.
            if let blockingPool = blockingPools.removeValue(forKey: id) {
                blockingPool.loop.execute { blockingPool.shutDown() }
            }
            return pool
        }
        if let pool = blockingPools[id] { return pool }
        let pool = RedisPool(endpoint: endpoints[id - 1], loop: Self.blockingLoop)
        blockingPools[id] = pool
        return pool
    }
}

/// Replies on their way to Lua: one call's reply, or a pipeline's replies
/// as an array (error replies as RedisErrors in their slots).
struct RedisReplies: @unchecked Sendable {
    // Sendable: the replies are not changed after parsing.
    let replies: [RedisReply]
    let server: String
    let asArray: Bool

    func push(on L: OpaquePointer, worker: Worker) {
        let redis = worker.redis
        _ = lua_checkstack(L, 8)
        lua_rawgeti(L, mdl_registryindex(), lua_Integer(redis.nullReference))
        lua_rawgeti(L, mdl_registryindex(), lua_Integer(worker.arrayMetatable))
        lua_rawgeti(L, mdl_registryindex(), lua_Integer(redis.errorClassReference))
        let errorClass = lua_gettop(L)
        let (null, array) = (errorClass - 2, errorClass - 1)
        var server = server
        server.withUTF8 { name in
            name.withMemoryRebound(to: CChar.self) { name in
                if asArray {
                    lua_createtable(L, Int32(clamping: replies.count), 0)
                    for (offset, reply) in replies.enumerated() {
                        mdl_redis_push_reply(L, reply.pointer, null, array, errorClass, name.baseAddress, name.count)
                        lua_rawseti(L, -2, lua_Integer(offset + 1))
                    }
                    lua_pushvalue(L, array)
                    _ = lua_setmetatable(L, -2)
                } else if let reply = replies.first {
                    mdl_redis_push_reply(L, reply.pointer, null, array, errorClass, name.baseAddress, name.count)
                } else {
                    lua_pushnil(L)
                }
            }
        }
        lua_rotate(L, null, 1)
        lua_settop(L, null)
    }
}
