import Foundation

/// A set filled from several threads.
final class LockedSet: @unchecked Sendable {
    private let lock = NSLock()
    private var set: Set<Int> = []
    func insert(_ value: Int) {
        lock.lock()
        set.insert(value)
        lock.unlock()
    }
    var values: Set<Int> {
        lock.lock()
        defer { lock.unlock() }
        return set
    }
}

/// A count kept from several threads.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
