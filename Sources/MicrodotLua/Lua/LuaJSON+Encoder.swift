import CLua

extension LuaJSON {
    /// Encodes the value at `index` and pushes its JSON text (a Lua string).
    /// The bytes go through `buffer`'s memory, kept between calls.
    static func encode(_ L: OpaquePointer, at index: Int32, using buffer: JSONBuffer) throws {
        var encoder = Encoder(L: L, output: buffer.writer(), root: lua_absindex(L, index))
        defer { buffer.finish(encoder.output) }
        try encoder.value(at: encoder.root, depth: 0)
        LuaStack(L).push(bytes: encoder.output.bytes)
    }

    private struct Encoder {
        let L: OpaquePointer
        var output: JSONBuffer.Writer
        /// The value encoded and the stack top above which the tables being
        /// encoded sit (see `containsItself`).
        let root: Int32
        let base: Int32

        init(L: OpaquePointer, output: JSONBuffer.Writer, root: Int32) {
            self.L = L
            self.output = output
            self.root = root
            self.base = lua_gettop(L)
        }

        mutating func value(at index: Int32, depth: Int) throws {
            switch lua_type(L, index) {
            case LUA_TNIL:
                output.append("null")
            case LUA_TBOOLEAN:
                output.append(lua_toboolean(L, index) != 0 ? "true" : "false")
            case LUA_TNUMBER:
                try number(at: index)
            case LUA_TSTRING:
                string(at: index)
            case LUA_TLIGHTUSERDATA where lua_touserdata(L, index) == nil:
                output.append("null")
            case LUA_TTABLE:
                try table(at: index, depth: depth)
            default:
                let name = String(cString: lua_typename(L, lua_type(L, index)))
                throw Failure(message: "cannot encode a \(name) value as JSON")
            }
        }

        mutating func number(at index: Int32) throws {
            if mdl_isinteger(L, index) != 0 {
                let integer = mdl_tointegerx(L, index, nil)
                if integer < 0 { output.append(UInt8(ascii: "-")) }
                withDecimalDigits(of: UInt64(integer.magnitude)) { output.append($0) }
                return
            }
            let double = mdl_tonumber(L, index)
            guard double.isFinite else {
                throw Failure(message: "cannot encode \(double) as JSON")
            }
            // Swift's description is the shortest text that reads back as
            // the same double.
            var text = double.description
            text.withUTF8 { output.append(UnsafeRawBufferPointer($0)) }
        }

        mutating func string(at index: Int32) {
            var length = 0
            guard let pointer = mdl_tolstring(L, index, &length) else { return }
            string(UnsafeRawBufferPointer(start: pointer, count: length))
        }

        /// A JSON string of `bytes`: control characters, quotes and backslashes escaped;
        /// a byte that is not part of valid UTF-8 becomes U+FFFD, since JSON
        /// text is UTF-8 (RFC 8259 section 8.1) and Lua strings are bytes.
        /// Runs of bytes that need nothing are copied at once.
        mutating func string(_ bytes: UnsafeRawBufferPointer) {
            output.append(UInt8(ascii: "\""))
            guard let start = bytes.baseAddress else {
                output.append(UInt8(ascii: "\""))
                return
            }
            let count = bytes.count
            var run = 0
            var offset = 0
            while offset < count {
                let byte = start.load(fromByteOffset: offset, as: UInt8.self)
                if byte >= 0x20, byte != 0x22, byte != 0x5C, byte < 0x80 {
                    offset += 1
                    continue
                }
                if byte >= 0x80 {
                    let length = Self.validSequenceLength(bytes, at: offset)
                    if length > 0 {
                        offset += length
                        continue
                    }
                }
                output.append(start + run, count: offset - run)
                escape(byte)
                offset += 1
                run = offset
            }
            output.append(start + run, count: count - run)
            output.append(UInt8(ascii: "\""))
        }

        /// The escape of a byte a JSON string cannot hold as it is (a byte
        /// of invalid UTF-8 becomes U+FFFD).
        private mutating func escape(_ byte: UInt8) {
            switch byte {
            case 0x22: output.append("\\\"")
            case 0x5C: output.append("\\\\")
            case 0x0A: output.append("\\n")
            case 0x0D: output.append("\\r")
            case 0x09: output.append("\\t")
            case 0x08: output.append("\\b")
            case 0x0C: output.append("\\f")
            case 0x80...:
                output.append(0xEF)
                output.append(0xBF)
                output.append(0xBD)
            default:
                let hex: StaticString = "0123456789abcdef"
                output.append("\\u00")
                output.append(hex.utf8Start[Int(byte >> 4)])
                output.append(hex.utf8Start[Int(byte & 0xF)])
            }
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

        /// Whether a table being encoded appears twice among the tables
        /// being encoded: the root and the values above `base` on the stack,
        /// where each level keeps the table it descends into. Asked only
        /// once the nesting is too deep, so that encoding keeps no list.
        func containsItself() -> Bool {
            var seen: Set<UnsafeRawPointer?> = [lua_topointer(L, root)]
            let top = lua_gettop(L)
            var index = base
            while index < top {
                index += 1
                if lua_type(L, index) == LUA_TTABLE, !seen.insert(lua_topointer(L, index)).inserted {
                    return true
                }
            }
            return false
        }

        mutating func table(at index: Int32, depth: Int) throws {
            guard depth < LuaJSON.maxDepth, lua_checkstack(L, 4) != 0 else {
                if containsItself() {
                    throw Failure(message: "cannot encode a table that contains itself as JSON")
                }
                throw Failure(message: "JSON nesting is too deep")
            }
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
                string(at: index)
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
