import NIOCore
import PostgresNIO

/// A column value as `db:query` gives it to Lua (spec 17's mapping), read
/// from postgres-nio's cells, which hold PostgreSQL's binary format.
enum PostgresValue: Sendable, Equatable {
    /// SQL NULL: `pg.null` in Lua.
    case null
    case boolean(Bool)
    case integer(Int)
    case number(Double)
    /// Text, numeric, uuid, bytea, dates and times, and any other type.
    case string([UInt8])
    /// json or jsonb text, decoded in Lua.
    case json([UInt8])
    case array([PostgresValue])

    private static func string(_ text: String) -> PostgresValue { .string(Array(text.utf8)) }

    /// The value of one cell; `type` is the column's OID.
    static func decode(type: PostgresDataType, format: PostgresFormat, bytes: ByteBuffer?) -> PostgresValue {
        guard var buffer = bytes else { return .null }
        guard format == .binary else { return .string(Array(buffer.readableBytesView)) }
        return decodeBinary(type: type.rawValue, &buffer)
    }

    private static func decodeBinary(type: UInt32, _ buffer: inout ByteBuffer) -> PostgresValue {
        let raw = PostgresValue.string(Array(buffer.readableBytesView))
        switch type {
        case 16:  // bool
            return buffer.readInteger(as: UInt8.self).map { .boolean($0 != 0) } ?? raw
        case 21:  // int2
            return buffer.readInteger(as: Int16.self).map { .integer(Int($0)) } ?? raw
        case 23:  // int4
            return buffer.readInteger(as: Int32.self).map { .integer(Int($0)) } ?? raw
        case 20:  // int8
            return buffer.readInteger(as: Int64.self).map { .integer(Int($0)) } ?? raw
        case 26, 28, 29, 24, 2202, 2203, 2204, 2205, 2206:  // oid, xid, cid, reg*: unsigned, text is the number
            return buffer.readInteger(as: UInt32.self).map { string(String($0)) } ?? raw
        case 700:  // float4: through its shortest text, so 0.1 stays 0.1 (as PostgreSQL prints it)
            return buffer.readInteger(as: UInt32.self).map { .number(Double("\(Float(bitPattern: $0))") ?? 0) } ?? raw
        case 701:  // float8
            return buffer.readInteger(as: UInt64.self).map { .number(Double(bitPattern: $0)) } ?? raw
        case 1700:  // numeric
            return PostgresText.numeric(&buffer).map(string) ?? raw
        case 114:  // json
            return .json(Array(buffer.readableBytesView))
        case 3802:  // jsonb: a version byte (1), then the text
            guard buffer.readInteger(as: UInt8.self) == 1 else { return raw }
            return .json(Array(buffer.readableBytesView))
        case 2950:  // uuid
            return PostgresText.uuid(&buffer).map(string) ?? raw
        case 1082:  // date
            return buffer.readInteger(as: Int32.self).map { string(PostgresText.date(days: $0)) } ?? raw
        case 1083:  // time
            return buffer.readInteger(as: Int64.self).map { string(PostgresText.time(microseconds: $0)) } ?? raw
        case 1266:  // timetz: time, then the zone's offset in seconds west of UTC
            guard let time = buffer.readInteger(as: Int64.self), let west = buffer.readInteger(as: Int32.self)
            else { return raw }
            return string(PostgresText.time(microseconds: time) + PostgresText.offset(secondsEast: -Int(west)))
        case 1114:  // timestamp
            return buffer.readInteger(as: Int64.self).map { string(PostgresText.timestamp($0, utc: false)) } ?? raw
        case 1184:  // timestamptz: in UTC
            return buffer.readInteger(as: Int64.self).map { string(PostgresText.timestamp($0, utc: true)) } ?? raw
        case 1186:  // interval
            guard let time = buffer.readInteger(as: Int64.self), let days = buffer.readInteger(as: Int32.self),
                let months = buffer.readInteger(as: Int32.self)
            else { return raw }
            return string(PostgresText.interval(microseconds: time, days: days, months: months))
        case _ where arrayTypes.contains(type):
            return decodeArray(&buffer) ?? raw
        default:
            // text, varchar, bpchar, name, "char", bytea, xml, enums, citext:
            // their binary form is their bytes.
            return raw
        }
    }

    /// The array types of the built-in types above.
    private static let arrayTypes: Set<UInt32> = [
        1000, 1001, 1002, 1003, 1005, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1028, 1115, 1182, 1183, 1185,
        1187, 1231, 1270, 2951, 199, 3807, 1010, 1011, 1012, 1013,
    ]

    /// PostgreSQL's binary array: dimensions, a has-null flag, the element
    /// type, each dimension's size and lower bound, then the elements (a
    /// length, -1 for NULL, and the bytes). One dimension gives an array,
    /// more give nested arrays.
    private static func decodeArray(_ buffer: inout ByteBuffer) -> PostgresValue? {
        guard let dimensions = buffer.readInteger(as: Int32.self), (0...6).contains(dimensions),
            buffer.readInteger(as: Int32.self) != nil, let element = buffer.readInteger(as: UInt32.self)
        else { return nil }
        var sizes: [Int] = []
        for _ in 0..<dimensions {
            guard let size = buffer.readInteger(as: Int32.self), size >= 0, buffer.readInteger(as: Int32.self) != nil
            else { return nil }
            sizes.append(Int(size))
        }
        func read(_ level: Int) -> PostgresValue? {
            guard level < sizes.count else {
                guard let length = buffer.readInteger(as: Int32.self) else { return nil }
                if length < 0 { return .null }
                guard var slice = buffer.readSlice(length: Int(length)) else { return nil }
                return decodeBinary(type: element, &slice)
            }
            var values: [PostgresValue] = []
            values.reserveCapacity(sizes[level])
            for _ in 0..<sizes[level] {
                guard let value = read(level + 1) else { return nil }
                values.append(value)
            }
            return .array(values)
        }
        return sizes.isEmpty ? .array([]) : read(0)
    }
}
