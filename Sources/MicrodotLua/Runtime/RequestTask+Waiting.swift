import CLua
import NIOCore

/// What a request (or background run) waits for while its coroutine is
/// suspended: a sleep, an async host call, more of its streamed body, a key
/// that something wakes (`Worker.wake`: a pub/sub message, a spawned
/// coroutine's end). Each returns nil when the
/// request now waits (the loop resumes it), or the number of values to
/// resume it with at once.
extension RequestTask {
    /// Sleeps `seconds` on the event loop; returns nil. A script run without
    /// one (a test script) has no time to wait: the sleep ends now, and the
    /// number of values to resume with is returned.
    func sleep(_ seconds: Double) -> Int32? {
        flushStream()
        lua_settop(thread, 0)
        guard let loop = worker.eventLoop else {
            lua_pushboolean(thread, 1)
            return 1
        }
        let nanoseconds = Int64(min(seconds, 1e9) * 1e9)
        let scheduled = loop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
            guard case .sleeping = state else { return }
            if cancelled {
                resumeCancelled()
            } else {
                lua_pushboolean(thread, 1)
                resume(arguments: 1)
            }
        }
        state = .sleeping(scheduled)
        return nil
    }

    /// Waits for the async call `ticket` on the event loop; returns nil.
    /// Without one (a test script), blocks until the call is done and
    /// returns the number of values to resume with.
    func awaitCall(_ ticket: Int) -> Int32? {
        flushStream()
        let co = thread
        lua_settop(co, 0)
        guard let call = worker.asyncCalls.removeValue(forKey: ticket) else {
            lua_pushboolean(co, 0)
            LuaStack(co).push("unknown suspension")
            return 2
        }
        guard let loop = worker.eventLoop else {
            worker.pushResult(call.wait(), on: co)
            return 2
        }
        state = .awaiting(call)
        let task = NIOLoopBound(self, eventLoop: loop)
        call.whenComplete { result in
            loop.execute { task.value.asyncCallFinished(call, result) }
        }
        return nil
    }

    private func asyncCallFinished(_ call: AsyncCall, _ result: AsyncCall.Outcome) {
        guard case .awaiting(let awaited) = state, awaited === call else { return }
        worker.pushResult(result, on: thread)
        resume(arguments: 2)
    }

    /// Waits for more of the streamed request body (`req.stream`): resumed
    /// with true once something arrived, the body ended or failed (the
    /// read that follows finds out which). A stream is only ever waited for
    /// on a connection: the test clients give whole bodies.
    func waitForBody() -> Int32? {
        flushStream()
        lua_settop(thread, 0)
        guard let stream = request.bodyStream, let loop = worker.eventLoop, !cancelled else {
            lua_pushboolean(thread, 0)
            LuaStack(thread).push(cancelled ? "request cancelled" : "the request has no body to wait for")
            return 2
        }
        if stream.isReadable {
            lua_pushboolean(thread, 1)
            return 1
        }
        state = .waitingForBody(stream)
        // Called from the connection's read: resumed on a later turn of the
        // loop, not inside it.
        let task = NIOLoopBound(self, eventLoop: loop)
        stream.onAvailable = {
            loop.execute { task.value.bodyArrived(stream) }
        }
        return nil
    }

    private func bodyArrived(_ stream: RequestBodyStream) {
        guard case .waitingForBody(let waited) = state, waited === stream else { return }
        lua_pushboolean(thread, 1)
        resume(arguments: 1)
    }

    /// Waits until `key` is woken or `timeout` seconds pass; returns nil.
    /// Resumed with `true` when woken, `false, "timeout"` when the time is
    /// up, `false, "request cancelled"` when the request ends. Without an
    /// event loop (a test script) nothing can wake it: the time is up now.
    func wait(for key: Int, timeout: Double?) -> Int32? {
        flushStream()
        lua_settop(thread, 0)
        if cancelled {
            lua_pushboolean(thread, 0)
            LuaStack(thread).push("request cancelled")
            return 2
        }
        guard let loop = worker.eventLoop, worker.registerWaiter(key, self) else {
            lua_pushboolean(thread, 0)
            LuaStack(thread).push(worker.eventLoop == nil ? "timeout" : "another coroutine is waiting")
            return 2
        }
        let scheduled = timeout.map { seconds in
            loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(min(max(seconds, 0), 1e9) * 1e9))) {
                [self] in
                guard case .waiting(let waited, _) = state, waited == key else { return }
                worker.unregisterWaiter(key, self)
                lua_pushboolean(thread, 0)
                LuaStack(thread).push("timeout")
                resume(arguments: 2)
            }
        }
        state = .waiting(key: key, timeout: scheduled)
        return nil
    }

    /// `key` was woken (by `Worker.wake`, on the loop, outside any Lua).
    func woken(_ key: Int) {
        guard case .waiting(let waited, let timeout) = state, waited == key else { return }
        timeout?.cancel()
        lua_pushboolean(thread, 1)
        resume(arguments: 1)
    }
}
