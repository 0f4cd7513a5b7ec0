import CLua
import NIOCore

/// The server's end of a WebSocket as the request's coroutine sees it
/// (`ws:receive`, `ws:send`, `ws:close` of `microdot.websocket`): messages
/// the client sent wait here until the handler takes them, and an
/// operation that cannot finish yet keeps the coroutine suspended here,
/// the rest of the worker going on.
///
/// Owned by the transport (the channel's handler); it holds the request's
/// task until the handler is done. The request and the coroutines it
/// spawned (`microdot.spawn`) share it: one may wait to receive while
/// another waits to send or close.
final class WebSocketSession {
    /// How long `ws:close()` (and the close at the end) waits for the
    /// client's close frame before closing the connection (RFC 6455 section
    /// 7.1.1 lets the server close first; 5 s as the spec says).
    static let closeWait: TimeAmount = .seconds(5)
    /// Messages kept while the handler does not receive; past this the
    /// connection stops reading, so a client sending faster than the
    /// handler takes is held back by TCP.
    static let queuedMessageLimit = 16

    private(set) var task: RequestTask?
    weak var transport: WebSocketTransport?
    private let eventLoop: EventLoop?
    private var messages = CircularBuffer<(data: ByteBuffer, binary: Bool)>()
    /// Why no message can pass any more: the client's close (its code, or
    /// 1005 for none), a drop (1006), an error the server closed for, the
    /// server's own close. Nil while open.
    private(set) var closure: (code: Int, reason: String, byClient: Bool)?

    /// Who waits for what: one coroutine to receive, one to close, any
    /// number to send (each returns once the connection takes more).
    private var receiver: (task: RequestTask, timer: Scheduled<Void>?)?
    private var senders: [RequestTask] = []
    private var closer: (task: RequestTask, timer: Scheduled<Void>?)?
    /// The handler failed: the close at the end says 1011.
    var failed = false

    init(task: RequestTask, eventLoop: EventLoop?) {
        self.task = task
        self.eventLoop = eventLoop
    }

    var isBacklogged: Bool { messages.count >= Self.queuedMessageLimit }

    // MARK: From the transport

    /// A whole message arrived (fragments joined, text checked as UTF-8).
    func received(_ data: ByteBuffer, binary: Bool) {
        if let receiver {
            receiver.timer?.cancel()
            self.receiver = nil
            receiver.task.resumeWebSocket { co in
                lua_pushboolean(co, 1)
                Self.push(data, on: co)
                lua_pushboolean(co, binary ? 1 : 0)
                return 3
            }
        } else {
            messages.append((data, binary))
        }
    }

    /// No message can pass any more (see `closure`); the first reason wins.
    /// A handler that waits for the client is woken; one that sleeps is
    /// cancelled when the client went (its sleep raises).
    func closed(code: Int, reason: String, byClient: Bool) {
        if closure == nil { closure = (code, reason, byClient) }
        // Every waiter is taken first: resuming one may end the handler,
        // which lets go of the rest.
        let (receiver, senders, closer) = (self.receiver, self.senders, self.closer)
        self.receiver = nil
        self.senders = []
        self.closer = nil
        let waiting = receiver != nil || !senders.isEmpty || closer != nil
        if let receiver {
            receiver.timer?.cancel()
            receiver.task.resumeWebSocket(pushClosure)
        }
        for sender in senders { sender.resumeWebSocket(pushClosure) }
        if let closer {
            closer.timer?.cancel()
            closer.task.resumeWebSocket { co in
                lua_pushboolean(co, 1)
                return 1
            }
        }
        if !waiting && byClient { task?.cancel() }
    }

    /// The connection takes more: a send that waited for it returns.
    func writable() {
        let senders = self.senders
        self.senders = []
        for sender in senders {
            sender.resumeWebSocket { co in
                lua_pushboolean(co, 1)
                return 1
            }
        }
    }

    /// `task` stops waiting here (a spawned coroutine closed while it waits).
    func forget(_ task: RequestTask) {
        if let receiver, receiver.task === task {
            receiver.timer?.cancel()
            self.receiver = nil
        }
        senders.removeAll { $0 === task }
        if let closer, closer.task === task {
            closer.timer?.cancel()
            self.closer = nil
        }
    }

    /// The handler is done: the transport gets the connection back.
    func handlerFinished() {
        receiver?.timer?.cancel()
        closer?.timer?.cancel()
        receiver = nil
        senders = []
        closer = nil
        task = nil
        messages.removeAll()
        transport?.handlerFinished(failed: failed)
    }

    // MARK: From the coroutine

    /// Carries out `operation` for the coroutine `co` of `waiter` (its
    /// stack is cleared); returns how many values to resume it with now, or
    /// nil when it waits (the session resumes `waiter` later).
    func perform(_ operation: WebSocketOperation, on co: OpaquePointer, by waiter: RequestTask) -> Int32? {
        switch operation {
        case .upgrade:
            lua_settop(co, 0)
            lua_pushboolean(co, 0)
            LuaStack(co).push("the connection is a WebSocket already")
            return 2
        case .receive(let timeout):
            lua_settop(co, 0)
            if let message = messages.popFirst() {
                if messages.count == Self.queuedMessageLimit - 1 { transport?.resumeReading() }
                lua_pushboolean(co, 1)
                Self.push(message.data, on: co)
                lua_pushboolean(co, message.binary ? 1 : 0)
                return 3
            }
            if closure != nil { return pushClosure(co) }
            if receiver != nil { return pushBusy(co, "receive") }
            var timer: Scheduled<Void>?
            if let timeout, let eventLoop {
                timer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(min(timeout, 1e9) * 1e9))) {
                    [self] in
                    guard let receiver, receiver.task === waiter else { return }
                    self.receiver = nil
                    waiter.resumeWebSocket { co in
                        lua_pushboolean(co, 1)
                        lua_pushnil(co)
                        LuaStack(co).push("timeout")
                        return 3
                    }
                }
            }
            receiver = (waiter, timer)
            return nil
        case .send(let index, let binary):
            guard closure == nil, let transport else {
                lua_settop(co, 0)
                return pushClosure(co)
            }
            let length = Int(lua_rawlen(co, index))
            var buffer = transport.allocator.buffer(capacity: length)
            LuaStack(co).withBytes(at: index) { buffer.writeBytes($0) }
            lua_settop(co, 0)
            transport.send(buffer, binary: binary)
            if transport.isWritable || closure != nil {
                lua_pushboolean(co, 1)
                return 1
            }
            senders.append(waiter)
            return nil
        case .close(let code, let reason, let shouldWait):
            lua_settop(co, 0)
            if closure != nil { return pushClosure(co) }
            if closer != nil { return pushBusy(co, "close") }
            closure = (code ?? 1005, String(decoding: reason, as: UTF8.self), false)
            transport?.sendClose(code: code, reason: reason)
            guard shouldWait, let eventLoop, transport != nil else {
                lua_pushboolean(co, 1)
                return 1
            }
            let timer = eventLoop.assumeIsolated().scheduleTask(in: Self.closeWait) { [self] in
                guard let closer, closer.task === waiter else { return }
                transport?.closeNow()
                // closeNow reports the drop, which answers the wait; this in case it did not.
                if let closer = self.closer, closer.task === waiter {
                    self.closer = nil
                    waiter.resumeWebSocket { co in
                        lua_pushboolean(co, 1)
                        return 1
                    }
                }
            }
            closer = (waiter, timer)
            return nil
        }
    }

    /// `false, code, reason, by_client`: what makes Lua raise WebSocketError.
    private func pushClosure(_ co: OpaquePointer) -> Int32 {
        let closure = closure ?? (1006, "", true)
        lua_pushboolean(co, 0)
        lua_pushinteger(co, lua_Integer(closure.code))
        LuaStack(co).push(closure.reason)
        lua_pushboolean(co, closure.byClient ? 1 : 0)
        return 4
    }

    /// `false, message`: another coroutine already waits for the same
    /// thing (Lua raises the message).
    private func pushBusy(_ co: OpaquePointer, _ what: String) -> Int32 {
        lua_pushboolean(co, 0)
        LuaStack(co).push("ws:\(what): another coroutine is waiting")
        return 2
    }

    private static func push(_ data: ByteBuffer, on co: OpaquePointer) {
        data.withUnsafeReadableBytes { LuaStack(co).push(bytes: $0) }
    }
}
