import NIOCore
import PostgresNIO

/// A `db:query` parameter as the Lua side marked it (spec 17): nil or
/// `pg.null` → NULL, boolean → bool, integer → int8, float → float8,
/// string → text, `pg.bytea(s)` → bytea, table → jsonb (its JSON text).
enum PostgresParameter: Sendable {
    case null
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case text([UInt8])
    case bytea([UInt8])
    case jsonb([UInt8])

    /// The bindings of `parameters`, in order ($1, $2, ...).
    static func bindings(_ parameters: [PostgresParameter]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            if case .null = parameter {
                bindings.appendNull()
            } else {
                bindings.append(Encoded(parameter))
            }
        }
        return bindings
    }

    /// One non-NULL parameter in PostgreSQL's binary format.
    private struct Encoded: PostgresDynamicTypeEncodable {
        let parameter: PostgresParameter
        init(_ parameter: PostgresParameter) { self.parameter = parameter }

        var psqlType: PostgresDataType {
            switch parameter {
            case .null: return .null
            case .boolean: return .bool
            case .integer: return .int8
            case .number: return .float8
            case .text: return .text
            case .bytea: return .bytea
            case .jsonb: return .jsonb
            }
        }

        var psqlFormat: PostgresFormat { .binary }

        func encode<JSONEncoder: PostgresJSONEncoder>(
            into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
        ) {
            switch parameter {
            case .null: break
            case .boolean(let value): buffer.writeInteger(value ? 1 : 0, as: UInt8.self)
            case .integer(let value): buffer.writeInteger(value)
            case .number(let value): buffer.writeInteger(value.bitPattern)
            case .text(let bytes), .bytea(let bytes): buffer.writeBytes(bytes)
            case .jsonb(let bytes):
                buffer.writeInteger(1, as: UInt8.self)
                buffer.writeBytes(bytes)
            }
        }
    }
}
