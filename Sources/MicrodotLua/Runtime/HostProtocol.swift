import CLua

/// The contract between the host and `microdot.server.serve`, the Lua
/// function each request runs in its own coroutine (its header comment
/// describes it from the Lua side). The constants are published in
/// `microdot.core` from here, and what the coroutine hands back after each
/// resume is decoded here, into `Outcome`.
enum HostProtocol {
    /// The first value of a suspension's yield; a pointer only the host
    /// has, so a yield from the app cannot pass for one. Only the markers'
    /// addresses are used, never their memory: safe to share between threads.
    nonisolated(unsafe) private static let suspendMarker = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    /// Passed as the body argument when the body went over the limits.
    nonisolated(unsafe) private static let bodyTooLargeMarker = UnsafeMutableRawPointer.allocate(
        byteCount: 1, alignment: 1)

    /// What a suspension waits for: the number after `SUSPEND` in its yield.
    private enum SuspensionKind: lua_Integer {
        /// `SUSPEND, SLEEP, seconds`
        case sleep = 1
        /// `SUSPEND, AWAIT, ticket`: an async host function's call.
        case await = 2
        /// `SUSPEND, WEBSOCKET, op, ...`: see `WebSocketOperation`.
        case webSocket = 3
        /// `SUSPEND, BODY_WAIT`: more of the request's streamed body.
        case bodyWait = 4
        /// `SUSPEND, WAIT, key [, seconds]`: until `key` is woken (a
        /// pub/sub message, a spawned coroutine's end), or the time passes.
        case wait = 5
        /// `SUSPEND, SPAWN, id`: start background run `id` now (`microdot.spawn`).
        case spawn = 6
    }

    /// Sets `SUSPEND`, `SLEEP`, `AWAIT`, `WEBSOCKET` (and its operations),
    /// `BODY_WAIT`, `WAIT`, `SPAWN` and `BODY_TOO_LARGE` in the table at `core`.
    static func publish(_ L: OpaquePointer, into core: Int32) {
        let core = lua_absindex(L, core)
        lua_pushlightuserdata(L, suspendMarker)
        LuaStack(L).setField("SUSPEND", at: core)
        lua_pushinteger(L, SuspensionKind.sleep.rawValue)
        LuaStack(L).setField("SLEEP", at: core)
        lua_pushinteger(L, SuspensionKind.await.rawValue)
        LuaStack(L).setField("AWAIT", at: core)
        lua_pushinteger(L, SuspensionKind.webSocket.rawValue)
        LuaStack(L).setField("WEBSOCKET", at: core)
        WebSocketOperation.publish(L, into: core)
        lua_pushinteger(L, SuspensionKind.bodyWait.rawValue)
        LuaStack(L).setField("BODY_WAIT", at: core)
        lua_pushinteger(L, SuspensionKind.wait.rawValue)
        LuaStack(L).setField("WAIT", at: core)
        lua_pushinteger(L, SuspensionKind.spawn.rawValue)
        LuaStack(L).setField("SPAWN", at: core)
        lua_pushlightuserdata(L, bodyTooLargeMarker)
        LuaStack(L).setField("BODY_TOO_LARGE", at: core)
    }

    /// Pushes the body argument of a request whose body was not kept.
    static func pushBodyTooLarge(_ L: OpaquePointer) {
        lua_pushlightuserdata(L, bodyTooLargeMarker)
    }

    /// What a request coroutine handed back from a resume. Stack indices
    /// are absolute, on the coroutine.
    enum Outcome {
        /// It returned a response: a table, or a plain body followed by its
        /// Content-Type and status.
        case response(at: Int32)
        /// It returned nothing: a stream has ended (or was refused).
        case streamEnded
        /// It yielded a streaming response's head.
        case streamHead(at: Int32)
        /// It yielded a stream's next chunk, a string.
        case chunk(at: Int32)
        case sleep(seconds: Double)
        case await(ticket: Int)
        case webSocket(WebSocketOperation)
        /// The route waits for more of its streamed body.
        case bodyWait
        /// Wait for `key` to be woken, for at most `timeout` seconds (nil: no limit).
        case wait(key: Int, timeout: Double?)
        case spawn(id: Int)
        /// A suspension of a kind the host does not know.
        case unknownSuspension
        /// A yield that is none of the above (a bare `coroutine.yield`).
        case unknownYield
        /// It raised; the error value is on top of the coroutine's stack.
        case failed
    }

    /// Decodes the `results` values `lua_resume` left on `co` with `status`.
    static func decode(_ co: OpaquePointer, status: Int32, results: Int32) -> Outcome {
        let first = lua_gettop(co) - results + 1
        switch status {
        case LUA_OK:
            guard results > 0 else { return .streamEnded }
            let type = lua_type(co, first)
            return type == LUA_TTABLE || type == LUA_TSTRING ? .response(at: first) : .streamEnded
        case LUA_YIELD:
            guard results > 0 else { return .unknownYield }
            switch lua_type(co, first) {
            case LUA_TLIGHTUSERDATA where lua_touserdata(co, first) == suspendMarker:
                var isInteger: Int32 = 0
                let kind = SuspensionKind(rawValue: mdl_tointegerx(co, first + 1, &isInteger))
                switch isInteger != 0 ? kind : nil {
                case .sleep: return .sleep(seconds: mdl_tonumber(co, first + 2))
                case .await: return .await(ticket: Int(mdl_tointegerx(co, first + 2, nil)))
                case .webSocket:
                    return WebSocketOperation.decode(co, at: first + 2).map(Outcome.webSocket) ?? .unknownSuspension
                case .bodyWait: return .bodyWait
                case .wait:
                    let timeout = lua_type(co, first + 3) == LUA_TNUMBER ? mdl_tonumber(co, first + 3) : nil
                    return .wait(key: Int(mdl_tointegerx(co, first + 2, nil)), timeout: timeout)
                case .spawn: return .spawn(id: Int(mdl_tointegerx(co, first + 2, nil)))
                case nil: return .unknownSuspension
                }
            case LUA_TTABLE:
                return .streamHead(at: first)
            case LUA_TSTRING:
                return .chunk(at: first)
            default:
                return .unknownYield
            }
        default:
            return .failed
        }
    }
}
