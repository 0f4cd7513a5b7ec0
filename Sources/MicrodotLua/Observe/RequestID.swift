import NIOHTTP1

/// Request ids (spec section 21): the client's `X-Request-Id` when it is 1
/// to 128 characters of `[A-Za-z0-9._~:/+=-]` (what proxies and tracers
/// send), else 32 random hex digits. The access log writes it, responses
/// carry it back while logging, and Lua reads it as `req.request_id`.
enum RequestID {
    static let headerName = "X-Request-Id"
    static let maxLength = 128

    /// The id for a request with `headers`.
    static func make(_ headers: HTTPHeaders) -> String {
        if let given = headers.first(name: headerName), isValid(given) { return given }
        return random()
    }

    /// Whether `value` may be kept as it came.
    static func isValid(_ value: String) -> Bool {
        let bytes = value.utf8
        guard (1...maxLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy(isAllowed)
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "/"),
            UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// 32 lowercase hex digits from the system's generator (getrandom).
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 32) { out in
            for half in 0..<2 {
                var bits = generator.next() as UInt64
                for i in 0..<16 {
                    out[half * 16 + i] = digits[Int(bits & 0xf)]
                    bits >>= 4
                }
            }
            return 32
        }
    }

    /// The response header line, `X-Request-Id: <id>\r\n`.
    static func headerLine(_ id: String) -> [UInt8] {
        Array("\(headerName): \(id)\r\n".utf8)
    }
}
