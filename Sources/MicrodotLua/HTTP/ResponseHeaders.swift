import CLua
import NIOCore

/// The header walk of a response table: the app's headers are checked and
/// written here; the ones that frame the message are the server's.
extension ResponseEncoder {
    /// What a header the app set means to the server.
    private enum HeaderRole {
        /// Written as the app gave it.
        case app
        /// Written, and the server then adds no Date of its own.
        case date
        /// Content-Length or Transfer-Encoding: the body decides these, so
        /// the app's are dropped.
        case framing
        /// Not written; `close` in it closes the connection after the
        /// response.
        case connection
    }

    /// Header names the server handles itself, lower-case.
    private static let contentLengthName = Array("content-length".utf8)
    private static let transferEncodingName = Array("transfer-encoding".utf8)
    private static let connectionName = Array("connection".utf8)
    private static let dateName = Array("date".utf8)

    /// Writes the `headers` field of the response table at `response` (name
    /// to a string, a number or an array of strings); returns whether it
    /// held a Date. Throws `Invalid` for a name that is not a token or a
    /// value that is not allowed.
    static func writeHeaders(
        _ L: OpaquePointer, of response: Int32, into buffer: inout ByteBuffer, keepAlive: inout Bool,
        omitting omitted: HeaderOmission = []
    ) throws -> Bool {
        guard LuaStack(L).rawField("headers", of: response) == LUA_TTABLE else {
            if lua_type(L, -1) == LUA_TNIL { return false }
            throw Invalid(description: "response headers must be a table")
        }
        let headers = lua_gettop(L)
        var hasDate = false
        lua_pushnil(L)
        while lua_next(L, headers) != 0 {
            let value = lua_gettop(L)
            guard let role = LuaStack(L).withBytes(at: value - 1, role(ofName:)) ?? nil else {
                let shown = LuaStack(L).string(at: value - 1) ?? "(not a string)"
                mdl_pop(L, 2)
                throw Invalid(description: "invalid header name \(shown)")
            }
            switch role {
            case .framing:
                break
            case .connection:
                if let text = LuaStack(L).string(at: value), text.lowercased().contains("close") { keepAlive = false }
            case .app
            where !omitted.isEmpty
                && LuaStack(L).withBytes(at: value - 1, { omitted.contains(name: $0) }) == true:
                break
            case .app, .date:
                if role == .date { hasDate = true }
                do {
                    try writeValues(L, name: value - 1, value: value, into: &buffer)
                } catch {
                    lua_settop(L, headers)
                    throw error
                }
            }
            mdl_pop(L, 1)
        }
        return hasDate
    }

    /// nil when `name` is not a token (RFC 9110), which no header name the
    /// app sets may escape.
    private static func role(ofName name: UnsafeRawBufferPointer) -> HeaderRole? {
        guard isToken(name) else { return nil }
        if equalsIgnoringASCIICase(name, lowercase: contentLengthName)
            || equalsIgnoringASCIICase(name, lowercase: transferEncodingName)
        {
            return .framing
        }
        if equalsIgnoringASCIICase(name, lowercase: connectionName) { return .connection }
        if equalsIgnoringASCIICase(name, lowercase: dateName) { return .date }
        return .app
    }

    /// ASCII case-insensitive comparison of a token with a lower-case name
    /// of letters and '-' (`| 0x20` lower-cases a letter and maps no other
    /// token byte onto a letter or '-').
    static func equalsIgnoringASCIICase(_ bytes: UnsafeRawBufferPointer, lowercase: [UInt8]) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for index in 0..<bytes.count where bytes[index] | 0x20 != lowercase[index] {
            return false
        }
        return true
    }

    /// One header line per value: a single string or number, or each
    /// string of an array (an empty array writes nothing).
    private static func writeValues(
        _ L: OpaquePointer, name: Int32, value: Int32, into buffer: inout ByteBuffer
    ) throws {
        guard lua_type(L, value) == LUA_TTABLE else {
            try writeHeader(L, name: name, value: value, into: &buffer)
            return
        }
        let count = lua_rawlen(L, value)
        guard count > 0 else { return }
        for position in 1...count {
            lua_rawgeti(L, value, lua_Integer(position))
            try writeHeader(L, name: name, value: lua_gettop(L), into: &buffer)
            mdl_pop(L, 1)
        }
    }

    /// `name: value\r\n`, straight from Lua's bytes; a value that is not an
    /// RFC 9110 field-value is refused.
    private static func writeHeader(_ L: OpaquePointer, name: Int32, value: Int32, into buffer: inout ByteBuffer) throws
    {
        let valueType = lua_type(L, value)
        if valueType == LUA_TNUMBER {
            guard mdl_isinteger(L, value) != 0 || mdl_tonumber(L, value).isFinite else {
                throw Invalid(
                    description: "the value of header \(LuaStack(L).string(at: name) ?? "?") is not a finite number")
            }
            let text =
                mdl_isinteger(L, value) != 0 ? String(mdl_tointegerx(L, value, nil)) : String(mdl_tonumber(L, value))
            LuaStack(L).withBytes(at: name) { buffer.writeBytes($0) }
            buffer.writeStaticString(": ")
            buffer.writeString(text)
            buffer.writeStaticString("\r\n")
            return
        }
        guard valueType == LUA_TSTRING else {
            throw Invalid(
                description:
                    "the value of header \(LuaStack(L).string(at: name) ?? "") must be a string, a number or an array of strings"
            )
        }
        if let problem = LuaStack(L).withBytes(at: value, fieldValueProblem) ?? nil {
            throw Invalid(description: "the value of header \(LuaStack(L).string(at: name) ?? "") \(problem)")
        }
        LuaStack(L).withBytes(at: name) { buffer.writeBytes($0) }
        buffer.writeStaticString(": ")
        LuaStack(L).withBytes(at: value) { buffer.writeBytes($0) }
        buffer.writeStaticString("\r\n")
    }

    // MARK: The wire grammar of what the app sets (the one place of each rule)

    /// Why `value` is not an RFC 9110 field-value (section 5.5: visible
    /// characters, obs-text, and spaces or tabs between them), or nil when
    /// it is one: no control character but HTAB (CR, LF and NUL would split
    /// the header; the others are refused by recipients), no leading or
    /// trailing space or tab.
    static func fieldValueProblem(_ value: UnsafeRawBufferPointer) -> String? {
        if value.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            return "contains a control character (CR, LF, NUL or another CTL)"
        }
        if let first = value.first, first == 0x20 || first == 0x09 { return "starts with a space or tab" }
        if let last = value.last, last == 0x20 || last == 0x09 { return "ends with a space or tab" }
        return nil
    }

    /// Why `name` is not an RFC 9110 field-name (a token), or nil.
    static func fieldNameProblem(_ name: UnsafeRawBufferPointer) -> String? {
        isToken(name) ? nil : "is not a token (RFC 9110 section 5.1)"
    }

    /// Why `reason` is not an RFC 9112 reason-phrase (section 4: HTAB, SP,
    /// visible characters and obs-text), or nil.
    static func reasonPhraseProblem(_ reason: UnsafeRawBufferPointer) -> String? {
        if reason.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            return "contains a control character (RFC 9112 section 4)"
        }
        return nil
    }

    private static func isToken(_ name: UnsafeRawBufferPointer) -> Bool {
        // The table read once, not per byte (each read of a static checks
        // that it is initialized).
        let table = tokenBytes
        return !name.isEmpty && name.allSatisfy { table[Int($0)] }
    }

    /// RFC 9110's token characters, by byte value.
    private static let tokenBytes: [Bool] = (0...255).map { value in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
