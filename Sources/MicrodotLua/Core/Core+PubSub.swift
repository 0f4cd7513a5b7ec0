import CLua
import CLuaRuntime

/// `core.pubsub_*`, behind `microdot.pubsub` (pubsub.lua checks the
/// arguments and encodes tables first): thin functions over the worker's
/// `WorkerPubSub`. Channels and messages stay bytes.
enum CorePubSub: CoreArea {
    static func register(in core: CoreTable) {
        core.set("pubsub_publish", publish)
        core.set("pubsub_subscribe", subscribe)
        core.set("pubsub_receive", receive)
        core.set("pubsub_dropped", dropped)
        core.set("pubsub_close", close)
        core.set("pubsub_confirm", confirm)
    }

    private static func bytes(_ L: OpaquePointer, at index: Int32) -> [UInt8]? {
        LuaStack(L).withBytes(at: index) { Array($0) }
    }

    /// `core.pubsub_publish(channel, message)`.
    private static let publish: mdl_SwiftFunction = { L in
        let L = L!
        guard let channel = bytes(L, at: 1), let message = bytes(L, at: 2) else {
            return LuaStack(L).raise("pubsub_publish expects a channel and a message")
        }
        Worker.from(L).pubsub.hub.backend.publish(channel, message)
        return 0
    }

    /// `core.pubsub_subscribe(channel, ...)`: the new subscription's id. One
    /// made while a request's Lua runs (or a coroutine it spawned) closes
    /// with that request.
    private static let subscribe: mdl_SwiftFunction = { L in
        let L = L!
        let count = lua_gettop(L)
        var channels: [[UInt8]] = []
        for index in 1...max(count, 1) {
            guard let channel = bytes(L, at: index) else {
                return LuaStack(L).raise("pubsub_subscribe expects channels")
            }
            if !channels.contains(channel) { channels.append(channel) }
        }
        let worker = Worker.from(L)
        let id = worker.nextTicket
        worker.nextTicket += 1
        worker.pubsub.subscribe(id, to: channels, owner: worker.runningTask?.scope, on: worker.eventLoop)
        lua_pushinteger(L, lua_Integer(id))
        return 1
    }

    /// `core.pubsub_receive(id)`: message and channel, or nil and "empty"
    /// or "closed".
    private static let receive: mdl_SwiftFunction = { L in
        let L = L!
        switch Worker.from(L).pubsub.receive(Int(mdl_tointegerx(L, 1, nil))) {
        case .message(let channel, let message):
            message.withUnsafeBytes { LuaStack(L).push(bytes: $0) }
            channel.withUnsafeBytes { LuaStack(L).push(bytes: $0) }
        case .empty:
            lua_pushnil(L)
            LuaStack(L).push("empty")
        case .closed:
            lua_pushnil(L)
            LuaStack(L).push("closed")
        }
        return 2
    }

    /// `core.pubsub_dropped(id)`: messages dropped from its full queue.
    private static let dropped: mdl_SwiftFunction = { L in
        let L = L!
        lua_pushinteger(L, lua_Integer(Worker.from(L).pubsub.dropped(Int(mdl_tointegerx(L, 1, nil)))))
        return 1
    }

    /// `core.pubsub_confirm(id)` → a ticket whose call ends once the
    /// backend carries every channel of subscription `id` (at once in
    /// process; under `--shared`, when Redis confirmed them), or fails with
    /// why not.
    private static let confirm: mdl_SwiftFunction = { L in
        let L = L!
        let worker = Worker.from(L)
        let call = AsyncCall()
        let ticket = worker.nextTicket
        worker.nextTicket += 1
        worker.asyncCalls[ticket] = call
        let channels = worker.pubsub.channels(of: Int(mdl_tointegerx(L, 1, nil)))
        worker.pubsub.hub.backend.whenSubscribed(channels) { problem in
            if let problem {
                call.complete(.failure(RedisFailure(description: problem)))
            } else {
                call.complete(.success(.boolean(true)))
            }
        }
        lua_pushinteger(L, lua_Integer(ticket))
        return 1
    }

    /// `core.pubsub_close(id)`.
    private static let close: mdl_SwiftFunction = { L in
        let L = L!
        Worker.from(L).pubsub.close(Int(mdl_tointegerx(L, 1, nil)))
        return 0
    }
}
