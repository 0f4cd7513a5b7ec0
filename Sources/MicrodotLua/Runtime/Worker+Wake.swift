import NIOCore

/// Keys a coroutine waits on (`SUSPEND, WAIT, key`): a pub/sub
/// subscription's id, a spawned coroutine's. One waiter per key.
extension Worker {
    /// Records `task` as waiting on `key`; false when another task is.
    func registerWaiter(_ key: Int, _ task: RequestTask) -> Bool {
        if let waiting = waiters[key], waiting !== task { return false }
        waiters[key] = task
        return true
    }

    func unregisterWaiter(_ key: Int, _ task: RequestTask) {
        if waiters[key] === task { waiters[key] = nil }
    }

    /// Wakes the task waiting on `key`, if any: on the loop's next turn, as
    /// this may be called while Lua runs (a Swift function of `core`).
    func wake(_ key: Int) {
        guard let task = waiters.removeValue(forKey: key), let loop = eventLoop else { return }
        loop.assumeIsolated().execute { task.woken(key) }
    }
}
