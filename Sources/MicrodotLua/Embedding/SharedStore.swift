import NIOConcurrencyHelpers
import NIOCore

/// `microdot.shared`: one key-value store for every worker of a server (each
/// worker has its own Lua state, so module-level Lua variables are not
/// shared). Modelled on OpenResty's `lua_shared_dict`: keys are byte strings
/// (distinct bytes are distinct keys); values are strings, numbers, booleans
/// and tables of those (a table is stored as a copy, as JSON would keep it);
/// a key may expire; the store holds at most `capacity` bytes and a `set`
/// past that evicts the least recently used keys. Safe to use from any
/// thread, Swift code included.
public final class SharedStore: Sendable {
    /// A key: the bytes of a Lua string, compared byte by byte (never as
    /// Unicode text, so "é" and "e\u{301}" are two keys).
    public typealias Key = [UInt8]

    /// Why `increment(_:by:initial:)` failed.
    public enum IncrementError: Error, Equatable {
        /// The key has no value and no initial value was given.
        case notFound
        /// The key holds a value that is not a number.
        case notANumber
    }

    /// A value that cannot be stored: a function, userdata, or a table
    /// holding one.
    public struct NotStorable: Error {}

    /// Why a write was refused, with OpenResty's `err` text as `description`.
    public enum WriteError: Error, Equatable, CustomStringConvertible {
        /// `add` of a key that has a value.
        case exists
        /// `replace` of a key that has none.
        case notFound
        /// The entry is bigger than the whole store (`capacity`).
        case noMemory

        /// "exists", "not found" or "no memory", as OpenResty says.
        public var description: String {
            switch self {
            case .exists: return "exists"
            case .notFound: return "not found"
            case .noMemory: return "no memory"
            }
        }
    }

    /// Which writes `store` makes.
    enum Mode {
        case set, add, replace
    }

    /// Bytes counted for each entry on top of its key and value (the
    /// dictionary slot, the list links and the expiry).
    public static let entryOverhead = 64
    /// 64 MiB, the default `capacity`.
    public static let defaultCapacity = 64 * 1024 * 1024

    /// The most bytes the entries may take (keys, values and
    /// `entryOverhead` each).
    public let capacity: Int
    private let state: NIOLockedValueBox<LRU>

    /// An empty store of `capacity` bytes. A server makes its own; pass one
    /// to several `MicrodotTestClient`s or keep `MicrodotServer.shared` to
    /// share it.
    public init(capacity: Int = SharedStore.defaultCapacity) {
        self.capacity = max(0, capacity)
        state = NIOLockedValueBox(LRU())
    }

    /// The value under `key`, or nil when there is none or it has expired.
    /// A read makes the key the most recently used.
    public func get(_ key: Key) -> LuaValue? {
        state.withLockedValue { $0.get(key, now: .now()) }
    }

    /// `get` with the UTF-8 bytes of `key`.
    public func get(_ key: String) -> LuaValue? { get(Array(key.utf8)) }

    /// Stores `value` (`.nil` deletes), for `ttl` seconds when given (> 0),
    /// replacing any expiry the key had, as `ngx.shared.DICT:set`. Returns
    /// whether keys that had not expired were evicted to make room
    /// (OpenResty's `forcible`). Throws `WriteError.noMemory` for a value
    /// bigger than the whole store.
    @discardableResult
    public func set(_ key: Key, _ value: LuaValue, ttl: Double? = nil) throws -> Bool {
        try store(key, value, ttl: ttl, mode: .set)
    }

    /// `set` with the UTF-8 bytes of `key`.
    @discardableResult
    public func set(_ key: String, _ value: LuaValue, ttl: Double? = nil) throws -> Bool {
        try set(Array(key.utf8), value, ttl: ttl)
    }

    /// `set` only when `key` has no value (or it has expired); else throws
    /// `WriteError.exists`.
    @discardableResult
    public func add(_ key: Key, _ value: LuaValue, ttl: Double? = nil) throws -> Bool {
        try store(key, value, ttl: ttl, mode: .add)
    }

    /// `set` only when `key` has a value; else throws `WriteError.notFound`.
    @discardableResult
    public func replace(_ key: Key, _ value: LuaValue, ttl: Double? = nil) throws -> Bool {
        try store(key, value, ttl: ttl, mode: .replace)
    }

    func store(_ key: Key, _ value: LuaValue, ttl: Double?, mode: Mode) throws -> Bool {
        guard let valueSize = Self.size(of: value) else { throw NotStorable() }
        let expires = ttl.map { NIODeadline.now() + .nanoseconds(Int64(min($0, 1e9) * 1e9)) }
        return try state.withLockedValue { lru in
            let now = NIODeadline.now()
            let exists = lru.get(key, now: now, touch: false) != nil
            switch mode {
            case .add where exists: throw WriteError.exists
            case .replace where !exists: throw WriteError.notFound
            default: break
            }
            if case .nil = value {
                lru.remove(key)
                return false
            }
            let size = key.count + valueSize + Self.entryOverhead
            guard size <= capacity else { throw WriteError.noMemory }
            lru.remove(key)
            let forcible = lru.makeRoom(for: size, capacity: capacity, now: now)
            lru.insert(key, value, size: size, expires: expires)
            return forcible
        }
    }

    /// Adds `amount` to the number under `key` and returns the sum; a missing
    /// (or expired) key starts from `initial`, as OpenResty's `incr`.
    /// Integers stay integers. The expiry of an existing key is kept.
    public func increment(_ key: Key, by amount: LuaValue, initial: LuaValue? = nil) throws -> LuaValue {
        try state.withLockedValue { lru in
            let now = NIODeadline.now()
            let current = lru.get(key, now: now, touch: false)
            let expires = current == nil ? nil : lru.expiry(of: key)
            guard let start = current ?? initial else { throw IncrementError.notFound }
            let sum: LuaValue
            switch (start, amount) {
            case (.integer(let a), .integer(let b)):
                let (result, overflow) = a.addingReportingOverflow(b)
                sum = overflow ? .number(Double(a) + Double(b)) : .integer(result)
            case (.integer, .number), (.number, .integer), (.number, .number):
                sum = .number(start.double! + amount.double!)
            default:
                throw IncrementError.notANumber
            }
            let size = key.count + Self.size(of: sum)! + Self.entryOverhead
            lru.remove(key)
            _ = lru.makeRoom(for: size, capacity: capacity, now: now)
            lru.insert(key, sum, size: size, expires: expires)
            return sum
        }
    }

    /// `increment` with the UTF-8 bytes of `key`.
    public func increment(_ key: String, by amount: LuaValue, initial: LuaValue? = nil) throws -> LuaValue {
        try increment(Array(key.utf8), by: amount, initial: initial)
    }

    /// Removes `key` (nothing happens when it is missing).
    public func delete(_ key: Key) {
        state.withLockedValue { $0.remove(key) }
    }

    /// `delete` with the UTF-8 bytes of `key`.
    public func delete(_ key: String) { delete(Array(key.utf8)) }

    /// The keys that have not expired, most recently used first, at most
    /// `limit` of them (0: all), as `ngx.shared.DICT:get_keys`.
    public func keys(limit: Int = 1024) -> [Key] {
        state.withLockedValue { $0.keys(limit: limit, now: .now()) }
    }

    /// Bytes not taken by entries.
    public var freeSpace: Int {
        capacity - state.withLockedValue { $0.used }
    }

    /// Bytes `value` takes in the store, or nil when it cannot be stored.
    static func size(of value: LuaValue, depth: Int = 0) -> Int? {
        guard depth <= 100 else { return nil }
        switch value {
        case .nil, .boolean, .integer, .number: return 8
        case .string(let bytes): return bytes.count + 8
        case .array(let elements):
            var total = 16
            for element in elements {
                guard let size = size(of: element, depth: depth + 1) else { return nil }
                total += size
            }
            return total
        case .table(let fields):
            var total = 16
            for (key, field) in fields {
                guard let size = size(of: field, depth: depth + 1) else { return nil }
                total += key.utf8.count + 16 + size
            }
            return total
        }
    }
}

/// The entries of a `SharedStore`, in a doubly linked list from the most
/// to the least recently used, over an array of slots (freed slots are
/// reused), with a dictionary from key to slot.
private struct LRU {
    struct Node {
        var key: SharedStore.Key
        var value: LuaValue
        var size: Int
        var expires: NIODeadline?
        var newer: Int
        var older: Int
    }

    private var nodes: [Node] = []
    private var free: [Int] = []
    private var slots: [SharedStore.Key: Int] = [:]
    private var newest = -1
    private var oldest = -1
    private(set) var used = 0

    mutating func get(_ key: SharedStore.Key, now: NIODeadline, touch: Bool = true) -> LuaValue? {
        guard let slot = slots[key] else { return nil }
        if let expires = nodes[slot].expires, expires <= now {
            remove(key)
            return nil
        }
        if touch && slot != newest {
            unlink(slot)
            linkAsNewest(slot)
        }
        return nodes[slot].value
    }

    func expiry(of key: SharedStore.Key) -> NIODeadline? {
        slots[key].flatMap { nodes[$0].expires }
    }

    mutating func insert(_ key: SharedStore.Key, _ value: LuaValue, size: Int, expires: NIODeadline?) {
        let node = Node(key: key, value: value, size: size, expires: expires, newer: -1, older: -1)
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            nodes[slot] = node
        } else {
            slot = nodes.count
            nodes.append(node)
        }
        slots[key] = slot
        used += size
        linkAsNewest(slot)
    }

    mutating func remove(_ key: SharedStore.Key) {
        guard let slot = slots.removeValue(forKey: key) else { return }
        unlink(slot)
        used -= nodes[slot].size
        nodes[slot].value = .nil
        nodes[slot].key = []
        free.append(slot)
    }

    /// Removes expired entries among the 8 least recently used, then the
    /// least recently used ones, until `size` more bytes fit; returns
    /// whether a live entry went.
    mutating func makeRoom(for size: Int, capacity: Int, now: NIODeadline) -> Bool {
        guard used + size > capacity else { return false }
        // Expired entries among the least recently used few go first, as
        // OpenResty's shared dict looks at its LRU tail: a bounded look, so
        // a full store of live keys costs O(1) per write, not a scan.
        var slot = oldest
        var looked = 0
        while slot >= 0 && used + size > capacity && looked < 8 {
            let newer = nodes[slot].newer
            if let expires = nodes[slot].expires, expires <= now { remove(nodes[slot].key) }
            slot = newer
            looked += 1
        }
        var forcible = false
        while used + size > capacity && oldest >= 0 {
            remove(nodes[oldest].key)
            forcible = true
        }
        return forcible
    }

    func keys(limit: Int, now: NIODeadline) -> [SharedStore.Key] {
        var keys: [SharedStore.Key] = []
        var slot = newest
        while slot >= 0 && (limit <= 0 || keys.count < limit) {
            if nodes[slot].expires.map({ $0 > now }) ?? true { keys.append(nodes[slot].key) }
            slot = nodes[slot].older
        }
        return keys
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (nodes[slot].newer, nodes[slot].older)
        if newer >= 0 { nodes[newer].older = older } else { newest = older }
        if older >= 0 { nodes[older].newer = newer } else { oldest = newer }
        nodes[slot].newer = -1
        nodes[slot].older = -1
    }

    private mutating func linkAsNewest(_ slot: Int) {
        nodes[slot].older = newest
        nodes[slot].newer = -1
        if newest >= 0 { nodes[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }
}
