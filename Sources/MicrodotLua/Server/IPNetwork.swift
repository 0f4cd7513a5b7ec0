#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address as its network-order bytes (4 or 16), parsed and
/// printed with `inet_pton`/`inet_ntop`: `192.0.2.1`, `2001:db8::1`.
struct IPAddress: Sendable, Hashable {
    let bytes: [UInt8]

    /// Nil unless `text` is a plain IPv4 (dotted quad) or IPv6 address (no
    /// brackets, port or zone).
    init?(_ text: Substring) {
        guard !text.isEmpty, text.utf8.count < 64 else { return nil }
        var storage = [UInt8](repeating: 0, count: 16)
        let string = String(text)
        if inet_pton(AF_INET, string, &storage) == 1 {
            bytes = Array(storage[0..<4])
        } else if inet_pton(AF_INET6, string, &storage) == 1 {
            bytes = storage
        } else {
            return nil
        }
    }

    init?(_ text: String) { self.init(Substring(text)) }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// The IPv4 address inside an IPv4-mapped IPv6 one (`::ffff:192.0.2.1`,
    /// what a dual-stack socket reports for an IPv4 peer), else nil.
    var mappedIPv4: IPAddress? {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF
        else { return nil }
        return IPAddress(bytes: Array(bytes[12..<16]))
    }

    /// The canonical text (lower-case, zeros compressed for IPv6).
    var text: String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard inet_ntop(family, bytes, &buffer, socklen_t(buffer.count)) != nil else { return "" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// An IPv4 or IPv6 network in CIDR notation (RFC 4632, RFC 4291 section
/// 2.3): `10.0.0.0/8`, `fd00::/8`; a bare address is a /32 or /128. Bits
/// past the prefix are ignored, as nginx's `set_real_ip_from` does.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    let address: IPAddress
    /// Leading bits that must match: 0-32 for IPv4, 0-128 for IPv6.
    public let prefixLength: Int

    /// Nil unless `text` is `ADDRESS` or `ADDRESS/BITS` with BITS in range.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let width = address.bytes.count * 8
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].utf8.count <= 3, parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let bits = Int(parts[1]), bits <= width
            else { return nil }
            prefixLength = bits
        } else {
            prefixLength = width
        }
        self.address = address
    }

    /// `10.0.0.0/8`, the address as given (host bits kept) in canonical form.
    public var description: String { "\(address.text)/\(prefixLength)" }

    /// Whether `candidate` is inside; an IPv4-mapped IPv6 address counts as
    /// its IPv4 address.
    func contains(_ candidate: IPAddress) -> Bool {
        var candidate = candidate
        if candidate.bytes.count != address.bytes.count {
            guard let mapped = candidate.mappedIPv4, address.bytes.count == 4 else { return false }
            candidate = mapped
        }
        var remaining = prefixLength
        for (mine, theirs) in zip(address.bytes, candidate.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if mine & mask != theirs & mask { return false }
            remaining -= 8
        }
        return true
    }
}
