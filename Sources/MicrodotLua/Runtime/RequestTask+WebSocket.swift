import CLua
import NIOCore

/// A request that becomes a WebSocket (`microdot.websocket`): the upgrade,
/// then the coroutine's receive, send and close, carried out by its
/// `WebSocketSession`.
extension RequestTask {
    /// Carries out `operation`; returns how many values to resume the
    /// coroutine with now, or nil when it waits.
    func webSocketOperation(_ operation: WebSocketOperation) -> Int32? {
        let co = thread
        guard case .upgrade(let accept, let maxMessageLength) = operation else {
            // A coroutine the request spawned shares the request's WebSocket.
            guard let webSocket = webSocket ?? spawnedIn?.webSocket else {
                lua_settop(co, 0)
                lua_pushboolean(co, 0)
                lua_pushinteger(co, 1006)
                LuaStack(co).push("not a WebSocket")
                return 3
            }
            let answered = webSocket.perform(operation, on: co, by: self)
            if answered == nil { state = .webSocket }
            return answered
        }
        lua_settop(co, 0)
        if webSocket != nil || headSent || cancelled {
            lua_pushboolean(co, 0)
            LuaStack(co).push(cancelled ? "request cancelled" : "the response has started: too late to upgrade")
            return 2
        }
        let session = WebSocketSession(task: self, eventLoop: worker.eventLoop)
        // HTTP's parser stops reading after a request whose Connection has
        // the upgrade option (not merely contains the word, as Microdot
        // checks): only then do the next bytes belong to the WebSocket.
        let connection = request.head.headers[canonicalForm: "connection"]
        guard connection.contains(where: { $0.lowercased() == "upgrade" }),
            let transport = sink.upgradeToWebSocket(
                accept: accept, maxMessageLength: maxMessageLength, session: session)
        else {
            lua_pushboolean(co, 0)
            LuaStack(co).push("the request cannot be upgraded")
            lua_pushinteger(co, 400)
            return 3
        }
        session.transport = transport
        webSocket = session
        headSent = true
        logRequest(status: 101)
        observed?.status = 101
        lua_pushboolean(co, 1)
        return 1
    }

    /// The session's wait is over: `push` gives the values to resume with.
    func resumeWebSocket(_ push: (OpaquePointer) -> Int32) {
        guard case .webSocket = state else { return }
        lua_settop(thread, 0)
        resume(arguments: push(thread))
    }
}
