import Dispatch
import NIOConcurrencyHelpers

/// One call of an async host function: the Swift task, and where its result
/// goes. A request waiting for it registers a callback (resumed on its own
/// loop); a script outside any request blocks until the result is there.
final class AsyncCall: @unchecked Sendable {
    private let lock = NIOLock()
    private var result: Result<AsyncValue, Error>?
    private var callback: ((Result<AsyncValue, Error>) -> Void)?
    private let finished = DispatchSemaphore(value: 0)
    var task: Task<Void, Never>?

    func complete(_ result: Result<AsyncValue, Error>) {
        let callback = lock.withLock { () -> ((Result<AsyncValue, Error>) -> Void)? in
            self.result = result
            // The callback usually holds this call: keeping it would keep
            // both, and the result, for good.
            defer { self.callback = nil }
            return self.callback
        }
        finished.signal()
        callback?(result)
    }

    /// Calls `callback` with the result: now if it is there, else when it is.
    func whenComplete(_ callback: @escaping (Result<AsyncValue, Error>) -> Void) {
        let ready = lock.withLock { () -> Result<AsyncValue, Error>? in
            if result == nil { self.callback = callback }
            return result
        }
        if let ready { callback(ready) }
    }

    /// The result, if the call is done.
    var finishedResult: Result<AsyncValue, Error>? {
        lock.withLock { result }
    }

    /// Blocks the calling thread until the result is there.
    func wait() -> Result<AsyncValue, Error> {
        finished.wait()
        finished.signal()
        return lock.withLock { result! }
    }

    func cancel() {
        task?.cancel()
        lock.withLock { callback = nil }
    }
}

/// What an async call hands Lua: a `LuaValue`, or a value the host pushes
/// itself (a Redis reply, whose nulls and error objects are no `LuaValue`s).
enum AsyncValue: Sendable {
    case value(LuaValue)
    case pushed(any HostPushable)
}

/// A result that pushes itself onto the stack of the coroutine it resumes
/// (one value), on the worker's thread, outside any protected call: it must
/// not raise.
protocol HostPushable: Sendable {
    func push(on L: OpaquePointer, worker: Worker)
}
