import Dispatch
import NIOConcurrencyHelpers

/// One call of an async host function: the Swift task, and where its result
/// goes. A request waiting for it registers a callback (resumed on its own
/// loop); a script outside any request blocks until the result is there.
final class AsyncCall: @unchecked Sendable {
    /// What a call gives Lua: a `LuaValue`, or values pushed by Swift on
    /// the worker's own thread (for what `LuaValue` cannot say, such as
    /// `json.null` or a PostgreSQL error table). A push leaves exactly one
    /// value on the stack and raises no Lua error.
    enum Payload: Sendable {
        case value(LuaValue)
        case push(@Sendable (Worker, OpaquePointer) -> Void)
    }
    typealias Outcome = Result<Payload, Error>

    private let lock = NIOLock()
    private var result: Outcome?
    private var callback: ((Outcome) -> Void)?
    /// Made by the first `wait()` only: a request on an event loop never
    /// blocks, and a semaphore per call cost more than the call's pool work.
    private var finished: DispatchSemaphore?
    var task: Task<Void, Never>?

    func complete(_ result: Result<LuaValue, Error>) {
        complete(outcome: result.map { .value($0) })
    }

    func complete(outcome result: Outcome) {
        let (callback, finished) = lock.withLock { () -> (((Outcome) -> Void)?, DispatchSemaphore?) in
            self.result = result
            // The callback usually holds this call: keeping it would keep
            // both, and the result, for good.
            defer { self.callback = nil }
            return (self.callback, self.finished)
        }
        finished?.signal()
        callback?(result)
    }

    /// Calls `callback` with the result: now if it is there, else when it is.
    func whenComplete(_ callback: @escaping (Outcome) -> Void) {
        let ready = lock.withLock { () -> Outcome? in
            if result == nil { self.callback = callback }
            return result
        }
        if let ready { callback(ready) }
    }

    /// The result, if the call is done.
    var finishedResult: Outcome? {
        lock.withLock { result }
    }

    /// Blocks the calling thread until the result is there.
    func wait() -> Outcome {
        let semaphore = lock.withLock { () -> DispatchSemaphore? in
            guard result == nil else { return nil }
            if finished == nil { finished = DispatchSemaphore(value: 0) }
            return finished
        }
        if let semaphore {
            semaphore.wait()
            semaphore.signal()
        }
        return lock.withLock { result! }
    }

    func cancel() {
        task?.cancel()
        lock.withLock { callback = nil }
    }
}
