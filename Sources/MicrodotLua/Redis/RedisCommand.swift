import CLua
import CRedis
import NIOCore

/// RESP2 requests: each command is an array of bulk strings,
/// `*<count>\r\n` then `$<length>\r\n<bytes>\r\n` per argument (the Redis
/// protocol specification, "Sending commands to a Redis server").
enum RedisCommand {
    /// Appends the command made of the `count` values from `first` on `L`'s
    /// stack: strings as they are, integers in decimal, floats as Lua's
    /// `tostring` writes them. Returns the error for any other value:
    /// `argument 2 must be a string or a number, got a boolean`.
    static func append(_ L: OpaquePointer, from first: Int32, count: Int32, into buffer: inout ByteBuffer) -> String? {
        guard count > 0 else { return "a command needs at least its name" }
        buffer.writeStaticString("*")
        buffer.writeString(String(count))
        buffer.writeStaticString("\r\n")
        for index in first..<(first + count) {
            switch lua_type(L, index) {
            case LUA_TSTRING:
                LuaStack(L).withBytes(at: index) { bytes in
                    appendBulk(UnsafeRawBufferPointer(bytes), into: &buffer)
                }
            case LUA_TNUMBER:
                let text =
                    mdl_isinteger(L, index) != 0
                    ? String(mdl_tointegerx(L, index, nil)) : luaFloatText(mdl_tonumber(L, index))
                var text8 = text
                text8.withUTF8 { appendBulk(UnsafeRawBufferPointer($0), into: &buffer) }
            default:
                return "argument \(index - first + 1) must be a string or a number, got "
                    + LuaStack(L).describe(at: index)
            }
        }
        return nil
    }

    /// Appends a command of Swift strings (AUTH, SELECT, SUBSCRIBE).
    static func append(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for var argument in arguments {
            argument.withUTF8 { appendBulk(UnsafeRawBufferPointer($0), into: &buffer) }
        }
    }

    /// Appends a command of byte strings (channels and messages).
    static func append(bytes arguments: [[UInt8]], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            argument.withUnsafeBytes { appendBulk($0, into: &buffer) }
        }
    }

    private static func appendBulk(_ bytes: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("$")
        buffer.writeString(String(bytes.count))
        buffer.writeStaticString("\r\n")
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
    }

    /// A float as Lua 5.4's `tostring` writes it (`%.14g`, with `.0` added
    /// to an integral value), so `r:set(k, 0.1)` stores what Lua shows.
    static func luaFloatText(_ value: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let length = Int(mdl_redis_format_float(value, buffer.baseAddress, 64))
            return buffer.baseAddress!.withMemoryRebound(to: UInt8.self, capacity: length) {
                String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
            }
        }
    }
}
