import Dispatch
import NIOConcurrencyHelpers

/// One call of an async host function: the Swift task, and where its result
/// goes. A request waiting for it registers a callback (resumed on its own
/// loop); a script outside any request blocks until the result is there.
final class AsyncCall: @unchecked Sendable {
    private let lock = NIOLock()
    private var result: Result<LuaValue, Error>?
    private var callback: ((Result<LuaValue, Error>) -> Void)?
    private let finished = DispatchSemaphore(value: 0)
    var task: Task<Void, Never>?

    func complete(_ result: Result<LuaValue, Error>) {
        let callback = lock.withLock { () -> ((Result<LuaValue, Error>) -> Void)? in
            self.result = result
            return self.callback
        }
        finished.signal()
        callback?(result)
    }

    /// Calls `callback` with the result: now if it is there, else when it is.
    func whenComplete(_ callback: @escaping (Result<LuaValue, Error>) -> Void) {
        let ready = lock.withLock { () -> Result<LuaValue, Error>? in
            if result == nil { self.callback = callback }
            return result
        }
        if let ready { callback(ready) }
    }

    /// The result, if the call is done.
    var finishedResult: Result<LuaValue, Error>? {
        lock.withLock { result }
    }

    /// Blocks the calling thread until the result is there.
    func wait() -> Result<LuaValue, Error> {
        finished.wait()
        finished.signal()
        return lock.withLock { result! }
    }

    func cancel() {
        task?.cancel()
        lock.withLock { callback = nil }
    }
}
