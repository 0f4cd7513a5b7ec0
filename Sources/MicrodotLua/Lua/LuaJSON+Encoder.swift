import CLua

extension LuaJSON {
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
                LuaStack(L).withBytes(at: index) { string($0) }
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

        /// A JSON string of `bytes`: control characters, quotes and backslashes escaped;
        /// a byte that is not part of valid UTF-8 becomes U+FFFD, since JSON
        /// text is UTF-8 (RFC 8259 section 8.1) and Lua strings are bytes.
        mutating func string(_ bytes: UnsafeRawBufferPointer) {
            output.append(UInt8(ascii: "\""))
            var start = 0
            var offset = 0
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte >= 0x80 {
                    let length = Self.validSequenceLength(bytes, at: offset)
                    if length > 0 {
                        offset += length
                    } else {
                        output.append(contentsOf: bytes[start..<offset])
                        output.append(contentsOf: [0xEF, 0xBF, 0xBD])
                        offset += 1
                        start = offset
                    }
                    continue
                }
                if byte < 0x20 || byte == 0x22 || byte == 0x5C {
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
                offset += 1
            }
            output.append(contentsOf: bytes[start...])
            output.append(UInt8(ascii: "\""))
        }

        /// The length of the well-formed UTF-8 sequence starting at `offset`
        /// (Unicode table 3-7: no overlong forms, surrogates or values past
        /// U+10FFFF), or 0.
        private static func validSequenceLength(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int {
            let lead = bytes[offset]
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: (length, low) = (3, 0xA0)
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: (length, high) = (3, 0x9F)
            case 0xF0: (length, low) = (4, 0x90)
            case 0xF1...0xF3: length = 4
            case 0xF4: (length, high) = (4, 0x8F)
            default: return 0
            }
            guard offset + length <= bytes.count else { return 0 }
            let second = bytes[offset + 1]
            guard second >= low, second <= high else { return 0 }
            for index in (offset + 2)..<(offset + length) where bytes[index] & 0xC0 != 0x80 {
                return 0
            }
            return length
        }

        func isForcedArray(at index: Int32) -> Bool {
            guard luaL_getmetafield(L, index, "__jsontype") != LUA_TNIL else { return false }
            defer { mdl_pop(L, 1) }
            return LuaStack(L).string(at: -1) == "array"
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
                LuaStack(L).withBytes(at: index) { string($0) }
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
}
