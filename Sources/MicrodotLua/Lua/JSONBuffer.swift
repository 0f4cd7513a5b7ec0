#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Raw memory `json.encode` writes into, one per worker and kept between
/// calls, so that encoding a small value allocates nothing. Bytes are
/// written through `JSONBuffer.Writer`, a struct on the encoder's stack:
/// no array uniqueness or exclusivity checks per byte.
final class JSONBuffer {
    /// Memory over this many bytes is given back after the call that grew it.
    static let keptCapacity = 64 * 1024

    fileprivate var base: UnsafeMutablePointer<UInt8>?
    fileprivate var capacity = 0

    deinit { free(base) }

    /// A writer over this buffer's memory; `finish` hands the memory back.
    func writer() -> Writer {
        Writer(base: base, capacity: capacity)
    }

    /// Takes back the memory `writer` ended with (freed when it grew past
    /// `keptCapacity`).
    func finish(_ writer: Writer) {
        if writer.capacity > Self.keptCapacity {
            free(writer.base)
            base = nil
            capacity = 0
        } else {
            base = writer.base
            capacity = writer.capacity
        }
    }

    /// Appends bytes, growing the memory (`realloc`, doubling) when needed.
    struct Writer {
        fileprivate(set) var base: UnsafeMutablePointer<UInt8>?
        fileprivate(set) var capacity: Int
        private(set) var count = 0

        fileprivate init(base: UnsafeMutablePointer<UInt8>?, capacity: Int) {
            self.base = base
            self.capacity = capacity
        }

        /// The bytes written so far (valid until the next write).
        var bytes: UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: base, count: count)
        }

        @inline(__always)
        mutating func append(_ byte: UInt8) {
            if count == capacity { grow(1) }
            base.unsafelyUnwrapped[count] = byte
            count += 1
        }

        @inline(__always)
        mutating func append(_ start: UnsafeRawPointer, count length: Int) {
            if length == 0 { return }
            if capacity - count < length { grow(length) }
            (base.unsafelyUnwrapped + count).update(
                from: start.assumingMemoryBound(to: UInt8.self), count: length)
            count += length
        }

        mutating func append(_ bytes: UnsafeRawBufferPointer) {
            guard let start = bytes.baseAddress else { return }
            append(start, count: bytes.count)
        }

        /// Appends an ASCII literal ("null", "true", an escape).
        @inline(__always)
        mutating func append(_ literal: StaticString) {
            append(literal.utf8Start, count: literal.utf8CodeUnitCount)
        }

        @inline(never)
        private mutating func grow(_ needed: Int) {
            let wanted = Swift.max(capacity * 2, count + needed, 256)
            guard let grown = realloc(base, wanted) else { fatalError("out of memory encoding JSON") }
            base = grown.assumingMemoryBound(to: UInt8.self)
            capacity = wanted
        }
    }
}
