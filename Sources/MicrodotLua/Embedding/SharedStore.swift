import NIOConcurrencyHelpers
import NIOCore

/// `microdot.shared`: one key-value store for every worker of a server (each
/// worker has its own Lua state, so module-level Lua variables are not
/// shared). Values are strings, numbers and booleans; a key may expire.
/// Safe to use from any thread, Swift code included.
public final class SharedStore: Sendable {
    private struct Entry {
        var value: LuaValue
        var expires: NIODeadline?
    }

    /// Why `increment(_:by:initial:)` failed.
    public enum IncrementError: Error, Equatable {
        /// The key has no value and no initial value was given.
        case notFound
        /// The key holds a value that is not a number.
        case notANumber
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    private let writes = NIOLockedValueBox(0)

    /// An empty store. A server makes its own; pass one to several
    /// `MicrodotTestClient`s or keep `MicrodotServer.shared` to share it.
    public init() {}

    /// The value under `key`, or nil when there is none or it has expired.
    public func get(_ key: String) -> LuaValue? {
        entries.withLockedValue { entries in
            guard let entry = entries[key] else { return nil }
            if let expires = entry.expires, expires <= .now() {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    /// An array or a table: only strings, numbers and booleans are stored.
    public struct NotStorable: Error {}

    /// Stores `value` (`.nil` deletes), for `ttl` seconds when given (> 0),
    /// replacing any expiry the key had. Throws `NotStorable` for an array
    /// or a table. As `ngx.shared.DICT:set` in OpenResty.
    public func set(_ key: String, _ value: LuaValue, ttl: Double? = nil) throws {
        guard Self.canStore(value) else { throw NotStorable() }
        let expires = ttl.map { NIODeadline.now() + .nanoseconds(Int64(min($0, 1e9) * 1e9)) }
        entries.withLockedValue { entries in
            if case .nil = value {
                entries[key] = nil
            } else {
                entries[key] = Entry(value: value, expires: expires)
            }
        }
        sweepNowAndThen()
    }

    /// Adds `amount` to the number under `key` and returns the sum; a missing
    /// (or expired) key starts from `initial`, as OpenResty's `incr`.
    /// Integers stay integers. The expiry of an existing key is kept.
    public func increment(_ key: String, by amount: LuaValue, initial: LuaValue? = nil) throws -> LuaValue {
        try entries.withLockedValue { entries in
            var entry = entries[key]
            if let expires = entry?.expires, expires <= .now() { entry = nil }
            let current: LuaValue
            if let entry {
                current = entry.value
            } else if let initial {
                current = initial
            } else {
                throw IncrementError.notFound
            }
            let sum: LuaValue
            switch (current, amount) {
            case (.integer(let a), .integer(let b)):
                let (result, overflow) = a.addingReportingOverflow(b)
                sum = overflow ? .number(Double(a) + Double(b)) : .integer(result)
            case (.integer, .number), (.number, .integer), (.number, .number):
                sum = .number(current.double! + amount.double!)
            default:
                throw IncrementError.notANumber
            }
            entries[key] = Entry(value: sum, expires: entry?.expires)
            return sum
        }
    }

    /// Removes `key` (nothing happens when it is missing).
    public func delete(_ key: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: key) }
    }

    static func canStore(_ value: LuaValue) -> Bool {
        switch value {
        case .nil, .boolean, .integer, .number, .string: return true
        case .array, .table: return false
        }
    }

    /// Drops expired keys every 1,000 writes, so keys that are never read
    /// again do not pile up.
    private func sweepNowAndThen() {
        let due = writes.withLockedValue { count -> Bool in
            count += 1
            if count < 1000 { return false }
            count = 0
            return true
        }
        guard due else { return }
        let now = NIODeadline.now()
        entries.withLockedValue { entries in
            entries = entries.filter { $0.value.expires.map { $0 > now } ?? true }
        }
    }
}
