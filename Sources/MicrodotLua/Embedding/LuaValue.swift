/// A Lua value crossing into Swift or back: what Swift functions exposed to
/// Lua receive and return, and what `microdot.shared` stores.
public enum LuaValue: Sendable, Hashable {
    case `nil`
    case boolean(Bool)
    case integer(Int)
    case number(Double)
    /// Lua strings are bytes; `string` and `init(_ text:)` read them as UTF-8.
    case string([UInt8])
    /// A table whose keys are 1...n (or one marked with `microdot.json.array`).
    case array([LuaValue])
    /// Any other table; number keys become their decimal text.
    case table([String: LuaValue])

    /// A Lua string holding the UTF-8 bytes of `text`.
    public init(_ text: String) { self = .string(Array(text.utf8)) }

    /// The text of a string value (invalid UTF-8 is repaired), else nil.
    public var string: String? {
        if case .string(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    /// An integer, or a number with an exact integer value.
    public var int: Int? {
        switch self {
        case .integer(let value): return value
        case .number(let value): return Int(exactly: value)
        default: return nil
        }
    }

    /// An integer or a number as a `Double` (large integers round), else nil.
    public var double: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .number(let value): return value
        default: return nil
        }
    }

    /// The value of a boolean, else nil (Lua's truthiness is not applied).
    public var bool: Bool? {
        if case .boolean(let value) = self { return value }
        return nil
    }

    /// Whether this is `nil`.
    public var isNil: Bool { self == .nil }

    /// A field of a table value.
    public subscript(key: String) -> LuaValue {
        if case .table(let fields) = self { return fields[key] ?? .nil }
        return .nil
    }

    /// An element of an array value, from 0 as in Swift.
    public subscript(index: Int) -> LuaValue {
        if case .array(let elements) = self, elements.indices.contains(index) { return elements[index] }
        return .nil
    }
}

/// Literals: `nil`, `true`, `42`, `1.5`, `"text"`, `[1, 2]` (an array) and
/// `["key": 1]` (a table; the last of repeated keys wins).
extension LuaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    /// `nil`: Lua's nil.
    public init(nilLiteral: ()) { self = .nil }
    /// `true` or `false`.
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
    /// An integer literal: a Lua integer.
    public init(integerLiteral value: Int) { self = .integer(value) }
    /// A floating-point literal: a Lua float.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A string literal: its UTF-8 bytes.
    public init(stringLiteral value: String) { self.init(value) }
    /// An array literal: a Lua sequence (a JSON array).
    public init(arrayLiteral elements: LuaValue...) { self = .array(elements) }
    /// A dictionary literal: a table with string keys; the last of repeated
    /// keys wins.
    public init(dictionaryLiteral elements: (String, LuaValue)...) {
        self = .table(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
