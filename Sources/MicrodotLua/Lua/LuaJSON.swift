/// JSON for Lua values, as the spec words it: 1..n tables are arrays, other
/// tables objects, `json.null` (a NULL light userdata) is null, and a
/// metatable with `__jsontype = "array"` forces an array. It touches Lua only
/// through calls that cannot raise, so it is safe to run in a Swift frame.
/// The encoder is in LuaJSON+Encoder.swift, the decoder in
/// LuaJSON+Decoder.swift.
enum LuaJSON {
    /// Why a value cannot be encoded or a text decoded, worded for the Lua
    /// error `json.encode`/`json.decode` raise.
    struct Failure: Error { let message: String }

    /// How deep arrays and objects may nest, both ways: deeper is an error,
    /// not a stack overflow.
    static let maxDepth = 500
}
