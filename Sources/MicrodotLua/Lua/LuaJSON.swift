import CLua

/// JSON for Lua values, as the spec words it: 1..n tables are arrays, other
/// tables objects, `json.null` (a NULL light userdata) is null, and a
/// metatable with `__jsontype = "array"` forces an array. It touches Lua only
/// through calls that cannot raise, so it is safe to run in a Swift frame.
enum LuaJSON {
    struct Failure: Error { let message: String }

    static let maxDepth = 500

    // MARK: Encoding

    /// Encodes the value at `index` into `output` (emptied first; a caller
    /// that keeps the array between calls reuses its memory).
    static func encode(_ L: OpaquePointer, at index: Int32, into output: inout [UInt8]) throws {
        output.removeAll(keepingCapacity: true)
        var encoder = Encoder(L: L, output: output)
        output = []
        defer { output = encoder.output }
        try encoder.value(at: lua_absindex(L, index), depth: 0)
    }

    private struct Encoder {
        let L: OpaquePointer
        var output: [UInt8]
        /// The tables being encoded, outermost first: one containing itself
        /// is an error, not an endless recursion.
        var open: [UnsafeRawPointer] = []

        init(L: OpaquePointer, output: [UInt8]) {
            self.L = L
            self.output = output
        }

        mutating func value(at index: Int32, depth: Int) throws {
            switch lua_type(L, index) {
            case LUA_TNIL:
                output.append(contentsOf: "null".utf8)
            case LUA_TBOOLEAN:
                output.append(contentsOf: lua_toboolean(L, index) != 0 ? "true".utf8 : "false".utf8)
            case LUA_TNUMBER:
                try number(at: index)
            case LUA_TSTRING:
                L.withBytes(at: index) { string($0) }
            case LUA_TLIGHTUSERDATA where lua_touserdata(L, index) == nil:
                output.append(contentsOf: "null".utf8)
            case LUA_TTABLE:
                try table(at: index, depth: depth)
            default:
                let name = String(cString: lua_typename(L, lua_type(L, index)))
                throw Failure(message: "cannot encode a \(name) value as JSON")
            }
        }

        mutating func number(at index: Int32) throws {
            if mdl_isinteger(L, index) != 0 {
                integer(mdl_tointegerx(L, index, nil))
                return
            }
            let double = mdl_tonumber(L, index)
            guard double.isFinite else {
                throw Failure(message: "cannot encode \(double) as JSON")
            }
            output.append(contentsOf: double.description.utf8)
        }

        mutating func integer(_ value: lua_Integer) {
            if value < 0 { output.append(UInt8(ascii: "-")) }
            withDecimalDigits(of: UInt64(value.magnitude)) { output.append(contentsOf: $0) }
        }

        mutating func string(_ bytes: UnsafeRawBufferPointer) {
            output.append(UInt8(ascii: "\""))
            var start = 0
            for (offset, byte) in bytes.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                output.append(contentsOf: bytes[start..<offset])
                switch byte {
                case 0x22: output.append(contentsOf: "\\\"".utf8)
                case 0x5C: output.append(contentsOf: "\\\\".utf8)
                case 0x0A: output.append(contentsOf: "\\n".utf8)
                case 0x0D: output.append(contentsOf: "\\r".utf8)
                case 0x09: output.append(contentsOf: "\\t".utf8)
                case 0x08: output.append(contentsOf: "\\b".utf8)
                case 0x0C: output.append(contentsOf: "\\f".utf8)
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    output.append(contentsOf: "\\u00".utf8)
                    output.append(hex[Int(byte >> 4)])
                    output.append(hex[Int(byte & 0xF)])
                }
                start = offset + 1
            }
            output.append(contentsOf: bytes[start...])
            output.append(UInt8(ascii: "\""))
        }

        func isForcedArray(at index: Int32) -> Bool {
            guard luaL_getmetafield(L, index, "__jsontype") != LUA_TNIL else { return false }
            defer { mdl_pop(L, 1) }
            return L.string(at: -1) == "array"
        }

        /// The array length when the keys are exactly 1...n (n > 0).
        func arrayLength(at index: Int32) -> Int? {
            var count: lua_Integer = 0
            var maximum: lua_Integer = 0
            lua_pushnil(L)
            while lua_next(L, index) != 0 {
                mdl_pop(L, 1)
                var isInteger: Int32 = 0
                let key = mdl_tointegerx(L, -1, &isInteger)
                guard lua_type(L, -1) == LUA_TNUMBER, isInteger != 0, key >= 1 else {
                    mdl_pop(L, 1)
                    return nil
                }
                count += 1
                maximum = max(maximum, key)
            }
            return count > 0 && count == maximum ? Int(count) : nil
        }

        mutating func table(at index: Int32, depth: Int) throws {
            guard depth < LuaJSON.maxDepth else { throw Failure(message: "JSON nesting is too deep") }
            guard lua_checkstack(L, 4) != 0 else { throw Failure(message: "JSON nesting is too deep") }
            let identity = lua_topointer(L, index)!
            guard !open.contains(identity) else {
                throw Failure(message: "cannot encode a table that contains itself as JSON")
            }
            open.append(identity)
            defer { open.removeLast() }

            let length: Int? = isForcedArray(at: index) ? Int(lua_rawlen(L, index)) : arrayLength(at: index)
            if let length {
                output.append(UInt8(ascii: "["))
                for position in 0..<length {
                    if position > 0 { output.append(UInt8(ascii: ",")) }
                    lua_rawgeti(L, index, lua_Integer(position + 1))
                    defer { mdl_pop(L, 1) }
                    try value(at: lua_gettop(L), depth: depth + 1)
                }
                output.append(UInt8(ascii: "]"))
                return
            }
            output.append(UInt8(ascii: "{"))
            var first = true
            lua_pushnil(L)
            while lua_next(L, index) != 0 {
                let top = lua_gettop(L)
                do {
                    if !first { output.append(UInt8(ascii: ",")) }
                    first = false
                    try key(at: top - 1)
                    output.append(UInt8(ascii: ":"))
                    try value(at: top, depth: depth + 1)
                } catch {
                    mdl_pop(L, 2)
                    throw error
                }
                mdl_pop(L, 1)
            }
            output.append(UInt8(ascii: "}"))
        }

        mutating func key(at index: Int32) throws {
            switch lua_type(L, index) {
            case LUA_TSTRING:
                L.withBytes(at: index) { string($0) }
            case LUA_TNUMBER:
                // Formatted here: lua_tolstring would convert the key in place
                // and break the traversal.
                output.append(UInt8(ascii: "\""))
                try number(at: index)
                output.append(UInt8(ascii: "\""))
            default:
                let name = String(cString: lua_typename(L, lua_type(L, index)))
                throw Failure(message: "cannot encode a table with a \(name) key as JSON")
            }
        }
    }

    // MARK: Decoding

    /// Parses `bytes` and pushes the value; arrays get the metatable at
    /// `arrayMetatable` so that they encode back as arrays, even when empty.
    static func decode(_ L: OpaquePointer, _ bytes: UnsafeRawBufferPointer, arrayMetatable: Int32) throws {
        var decoder = Decoder(L: L, bytes: bytes, arrayMetatable: lua_absindex(L, arrayMetatable))
        let base = lua_gettop(L)
        do {
            decoder.skipSpace()
            try decoder.value(depth: 0)
            decoder.skipSpace()
            guard decoder.position == bytes.count else { throw decoder.failure("unexpected data after the value") }
        } catch {
            lua_settop(L, base)
            throw error
        }
    }

    private struct Decoder {
        let L: OpaquePointer
        let bytes: UnsafeRawBufferPointer
        let arrayMetatable: Int32
        var position = 0

        init(L: OpaquePointer, bytes: UnsafeRawBufferPointer, arrayMetatable: Int32) {
            self.L = L
            self.bytes = bytes
            self.arrayMetatable = arrayMetatable
        }

        func failure(_ message: String) -> Failure {
            Failure(message: "invalid JSON at byte \(position + 1): \(message)")
        }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                position += 1
            }
        }

        mutating func expect(_ literal: String) throws {
            for byte in literal.utf8 {
                guard current == byte else { throw failure("expected \(literal)") }
                position += 1
            }
        }

        mutating func value(depth: Int) throws {
            guard depth < LuaJSON.maxDepth, lua_checkstack(L, 4) != 0 else {
                throw failure("nesting is too deep")
            }
            switch current {
            case UInt8(ascii: "{"): try object(depth: depth)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"):
                try expect("true")
                lua_pushboolean(L, 1)
            case UInt8(ascii: "f"):
                try expect("false")
                lua_pushboolean(L, 0)
            case UInt8(ascii: "n"):
                try expect("null")
                lua_pushlightuserdata(L, nil)
            case .some(let byte) where byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte):
                try number()
            case nil: throw failure("unexpected end of input")
            default: throw failure("unexpected character")
            }
        }

        mutating func object(depth: Int) throws {
            position += 1
            lua_createtable(L, 0, 4)
            skipSpace()
            if current == UInt8(ascii: "}") {
                position += 1
                return
            }
            while true {
                skipSpace()
                guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
                try string()
                skipSpace()
                try expect(":")
                skipSpace()
                try value(depth: depth + 1)
                lua_rawset(L, -3)
                skipSpace()
                if current == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                try expect("}")
                return
            }
        }

        mutating func array(depth: Int) throws {
            position += 1
            lua_createtable(L, 4, 0)
            lua_pushvalue(L, arrayMetatable)
            lua_setmetatable(L, -2)
            skipSpace()
            if current == UInt8(ascii: "]") {
                position += 1
                return
            }
            var index: lua_Integer = 1
            while true {
                skipSpace()
                try value(depth: depth + 1)
                lua_rawseti(L, -2, index)
                index += 1
                skipSpace()
                if current == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                try expect("]")
                return
            }
        }

        mutating func number() throws {
            let start = position
            var isInteger = true
            if current == UInt8(ascii: "-") { position += 1 }
            guard let first = current, (0x30...0x39).contains(first) else { throw failure("invalid number") }
            position += 1
            if first != UInt8(ascii: "0") {
                while let byte = current, (0x30...0x39).contains(byte) { position += 1 }
            }
            if current == UInt8(ascii: ".") {
                isInteger = false
                position += 1
                guard let byte = current, (0x30...0x39).contains(byte) else { throw failure("invalid number") }
                while let byte = current, (0x30...0x39).contains(byte) { position += 1 }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                isInteger = false
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard let byte = current, (0x30...0x39).contains(byte) else { throw failure("invalid number") }
                while let byte = current, (0x30...0x39).contains(byte) { position += 1 }
            }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            if isInteger, let integer = Int64(text) {
                lua_pushinteger(L, integer)
            } else if let double = Double(text) {
                lua_pushnumber(L, double)
            } else {
                throw failure("invalid number")
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard position + 4 <= bytes.count else { throw failure("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case 0x30...0x39: digit = byte - 0x30
                case 0x41...0x46: digit = byte - 0x41 + 10
                case 0x61...0x66: digit = byte - 0x61 + 10
                default: throw failure("invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }

        mutating func string() throws {
            position += 1
            var output: [UInt8] = []
            var start = position
            while true {
                guard let byte = current else { throw failure("unterminated string") }
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { throw failure("control character in string") }
                if byte != UInt8(ascii: "\\") {
                    position += 1
                    continue
                }
                output.append(contentsOf: bytes[start..<position])
                position += 1
                guard let escape = current else { throw failure("unterminated string") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""): output.append(0x22)
                case UInt8(ascii: "\\"): output.append(0x5C)
                case UInt8(ascii: "/"): output.append(0x2F)
                case UInt8(ascii: "b"): output.append(0x08)
                case UInt8(ascii: "f"): output.append(0x0C)
                case UInt8(ascii: "n"): output.append(0x0A)
                case UInt8(ascii: "r"): output.append(0x0D)
                case UInt8(ascii: "t"): output.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar), position + 1 < bytes.count,
                        bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                    {
                        let saved = position
                        position += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = saved
                        }
                    }
                    let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    output.append(contentsOf: String(character).utf8)
                default:
                    throw failure("invalid escape")
                }
                start = position
            }
            let end = position
            position += 1
            if output.isEmpty {
                L.push(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            } else {
                output.append(contentsOf: bytes[start..<end])
                output.withUnsafeBytes { L.push(bytes: $0) }
            }
        }
    }
}
