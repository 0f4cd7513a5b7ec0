/// `microdot.shared` values as bytes in Redis (`--shared`), each with a
/// type prefix so that a read gives back the type written: `s:` then the
/// string's bytes, `i:` a decimal integer, `f:` a float in the shortest
/// text that reads back exactly (`inf`, `-inf`, `nan` too), `b:1` / `b:0`,
/// and `t:` a table in a compact binary form (below), exact for every
/// string, integer and float inside. The prefixes are the spec's (section 21).
enum SharedValueCodec {
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    static func encode(_ value: LuaValue) -> [UInt8] {
        switch value {
        case .nil: return []
        case .string(let bytes): return Array("s:".utf8) + bytes
        case .integer(let number): return Array("i:\(number)".utf8)
        case .number(let number): return Array("f:\(number)".utf8)
        case .boolean(let flag): return Array((flag ? "b:1" : "b:0").utf8)
        case .array, .table:
            var bytes = Array("t:".utf8)
            appendTable(value, to: &bytes)
            return bytes
        }
    }

    static func decode(_ bytes: [UInt8]) throws(Invalid) -> LuaValue {
        guard bytes.count >= 2, bytes[1] == UInt8(ascii: ":") else {
            throw Invalid(description: "no type prefix (s:, i:, f:, b: or t:)")
        }
        let body = bytes[2...]
        let text = String(decoding: body, as: UTF8.self)
        switch bytes[0] {
        case UInt8(ascii: "s"): return .string(Array(body))
        case UInt8(ascii: "i"):
            guard let number = Int(text) else { throw Invalid(description: "i: without an integer") }
            return .integer(number)
        case UInt8(ascii: "f"):
            guard let number = Double(text) else { throw Invalid(description: "f: without a number") }
            return .number(number)
        case UInt8(ascii: "b"):
            guard text == "1" || text == "0" else { throw Invalid(description: "b: without 1 or 0") }
            return .boolean(text == "1")
        case UInt8(ascii: "t"):
            var reader = Reader(bytes: Array(body))
            let value = try reader.value(depth: 0)
            guard reader.offset == reader.bytes.count else { throw Invalid(description: "t: with bytes left over") }
            return value
        default:
            throw Invalid(description: "an unknown type prefix")
        }
    }

    // A table: one tag byte per value, then its payload, lengths and
    // counts as 4-byte little-endian numbers, integers and float bit
    // patterns as 8 bytes: n (nil), T / F, i, f, s + length + bytes,
    // a + count + values, m + count + (key length + key bytes + value)s.

    private static func appendTable(_ value: LuaValue, to bytes: inout [UInt8]) {
        switch value {
        case .nil: bytes.append(UInt8(ascii: "n"))
        case .boolean(let flag): bytes.append(UInt8(ascii: flag ? "T" : "F"))
        case .integer(let number):
            bytes.append(UInt8(ascii: "i"))
            append(UInt64(bitPattern: Int64(number)), size: 8, to: &bytes)
        case .number(let number):
            bytes.append(UInt8(ascii: "f"))
            append(number.bitPattern, size: 8, to: &bytes)
        case .string(let string):
            bytes.append(UInt8(ascii: "s"))
            append(UInt64(string.count), size: 4, to: &bytes)
            bytes += string
        case .array(let elements):
            bytes.append(UInt8(ascii: "a"))
            append(UInt64(elements.count), size: 4, to: &bytes)
            for element in elements { appendTable(element, to: &bytes) }
        case .table(let fields):
            bytes.append(UInt8(ascii: "m"))
            append(UInt64(fields.count), size: 4, to: &bytes)
            for (key, field) in fields {
                append(UInt64(key.utf8.count), size: 4, to: &bytes)
                bytes += Array(key.utf8)
                appendTable(field, to: &bytes)
            }
        }
    }

    private static func append(_ number: UInt64, size: Int, to bytes: inout [UInt8]) {
        for shift in 0..<size { bytes.append(UInt8(truncatingIfNeeded: number >> (8 * UInt64(shift)))) }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func take(_ count: Int) throws(Invalid) -> ArraySlice<UInt8> {
            guard count >= 0, bytes.count - offset >= count else { throw Invalid(description: "t: cut short") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        mutating func number(size: Int) throws(Invalid) -> UInt64 {
            var number: UInt64 = 0
            for (shift, byte) in try take(size).enumerated() { number |= UInt64(byte) << (8 * UInt64(shift)) }
            return number
        }

        mutating func value(depth: Int) throws(Invalid) -> LuaValue {
            guard depth <= 100 else { throw Invalid(description: "t: nested too deep") }
            switch try take(1).first! {
            case UInt8(ascii: "n"): return .nil
            case UInt8(ascii: "T"): return .boolean(true)
            case UInt8(ascii: "F"): return .boolean(false)
            case UInt8(ascii: "i"): return .integer(Int(Int64(bitPattern: try number(size: 8))))
            case UInt8(ascii: "f"): return .number(Double(bitPattern: try number(size: 8)))
            case UInt8(ascii: "s"): return .string(Array(try take(Int(try number(size: 4)))))
            case UInt8(ascii: "a"):
                let count = Int(try number(size: 4))
                var elements: [LuaValue] = []
                for _ in 0..<min(count, bytes.count) { elements.append(try value(depth: depth + 1)) }
                guard elements.count == count else { throw Invalid(description: "t: cut short") }
                return .array(elements)
            case UInt8(ascii: "m"):
                let count = Int(try number(size: 4))
                guard count <= bytes.count else { throw Invalid(description: "t: cut short") }
                var fields: [String: LuaValue] = [:]
                for _ in 0..<count {
                    let key = String(decoding: try take(Int(try number(size: 4))), as: UTF8.self)
                    fields[key] = try value(depth: depth + 1)
                }
                return .table(fields)
            default:
                throw Invalid(description: "t: with an unknown tag")
            }
        }
    }
}
