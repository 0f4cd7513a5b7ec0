import CLua
import NIOCore

/// What `--gzip` does to one eligible response (section 21 of the spec):
/// `Accept-Encoding` goes into its `Vary` whether it is compressed or not
/// (a cache must keep both forms apart), and `Content-Encoding: gzip` when
/// the request takes gzip.
struct GzipPlan {
    /// Whether the body is compressed (else only `Vary` changes).
    var compresses: Bool
    /// The app's `Vary` values, when it set some that lack
    /// `Accept-Encoding`: left out of its headers and written merged.
    private var appVary: [[UInt8]] = []
    /// The app's `Vary` already names `Accept-Encoding` (or is `*`).
    private var varyDone = false

    private static let contentTypeName = Array("content-type".utf8)
    private static let contentEncodingName = Array("content-encoding".utf8)
    private static let varyName = Array("vary".utf8)
    private static let acceptEncoding = Array("accept-encoding".utf8)

    /// App headers the merged `Vary` replaces.
    var omission: HeaderOmission { appVary.isEmpty ? [] : .vary }

    /// Reads the `headers` of the response table at `response`: nil when
    /// the response is not eligible (a `Content-Encoding`, a type not worth
    /// compressing, no `Content-Type`). Status and size are the caller's.
    static func make(_ L: OpaquePointer, response: Int32, accepts: Bool) -> GzipPlan? {
        defer { mdl_pop(L, 1) }
        guard LuaStack(L).rawField("headers", of: response) == LUA_TTABLE else { return nil }
        let headers = lua_gettop(L)
        var plan = GzipPlan(compresses: accepts)
        var typeTaken = false
        var encoded = false
        lua_pushnil(L)
        while lua_next(L, headers) != 0 {
            let value = lua_gettop(L)
            let name = LuaStack(L).withBytes(at: value - 1) { name -> Int in
                if ResponseEncoder.equalsIgnoringASCIICase(name, lowercase: contentTypeName) { return 1 }
                if ResponseEncoder.equalsIgnoringASCIICase(name, lowercase: contentEncodingName) { return 2 }
                return ResponseEncoder.equalsIgnoringASCIICase(name, lowercase: varyName) ? 3 : 0
            }
            switch name ?? 0 {
            case 1:
                typeTaken = LuaStack(L).withBytes(at: value, GzipRules.compresses(contentType:)) ?? false
            case 2:
                encoded = true
            case 3:
                plan.readVary(L, at: value)
            default:
                break
            }
            mdl_pop(L, 1)
        }
        guard typeTaken, !encoded else { return nil }
        if plan.varyDone { plan.appVary = [] }
        return plan
    }

    /// Keeps each string of the app's `Vary` (one, or an array), and notes
    /// whether one names `Accept-Encoding` or is `*`.
    private mutating func readVary(_ L: OpaquePointer, at value: Int32) {
        var strings: [[UInt8]] = []
        if lua_type(L, value) == LUA_TTABLE {
            let count = lua_rawlen(L, value)
            for position in 0..<count {
                lua_rawgeti(L, value, lua_Integer(position + 1))
                if let bytes = LuaStack(L).withBytes(at: -1, { Array($0) }) { strings.append(bytes) }
                mdl_pop(L, 1)
            }
        } else if let bytes = LuaStack(L).withBytes(at: value, { Array($0) }) {
            strings.append(bytes)
        }
        for string in strings {
            // A value the header walk refuses stays the app's (that walk
            // then fails the response), never copied here unchecked.
            if string.withUnsafeBytes(ResponseEncoder.fieldValueProblem) != nil { varyDone = true }
            for member in string.split(separator: UInt8(ascii: ",")) {
                let name = GzipRules.trim(member)
                if GzipRules.equalsLowercased(name, Self.acceptEncoding) || name.elementsEqual("*".utf8) {
                    varyDone = true
                }
            }
        }
        appVary += strings
    }

    /// `Vary` (the app's values, then `Accept-Encoding`) unless the app's
    /// has it, and `Content-Encoding: gzip` when compressing.
    func writeHeaders(into buffer: inout ByteBuffer) {
        if !varyDone {
            buffer.writeStaticString("Vary: ")
            for value in appVary where !GzipRules.trim(value[...]).isEmpty {
                buffer.writeBytes(value)
                buffer.writeStaticString(", ")
            }
            buffer.writeStaticString("Accept-Encoding\r\n")
        }
        if compresses { buffer.writeStaticString("Content-Encoding: gzip\r\n") }
    }

    /// The head lines a plain response (a body string and its type) gets.
    static func writePlainHeaders(compresses: Bool, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("Vary: Accept-Encoding\r\n")
        if compresses { buffer.writeStaticString("Content-Encoding: gzip\r\n") }
    }
}
