import CLua

extension LuaJSON {
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
                LuaStack(L).push(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            } else {
                output.append(contentsOf: bytes[start..<end])
                output.withUnsafeBytes { LuaStack(L).push(bytes: $0) }
            }
        }
    }
}
