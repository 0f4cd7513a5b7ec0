import CLua

extension OpaquePointer {
    struct ConversionError: Error, CustomStringConvertible {
        let description: String
    }

    /// The Lua value at `index` as a `LuaValue`. Functions, userdata and
    /// threads cannot cross (`microdot.json.null` becomes `.nil`), nor can
    /// tables nested deeper than 100 or that contain themselves.
    func luaValue(at index: Int32, depth: Int = 0) throws -> LuaValue {
        let index = lua_absindex(self, index)
        switch lua_type(self, index) {
        case LUA_TNIL, LUA_TNONE:
            return .nil
        case LUA_TBOOLEAN:
            return .boolean(lua_toboolean(self, index) != 0)
        case LUA_TNUMBER:
            if mdl_isinteger(self, index) != 0 { return .integer(Int(mdl_tointegerx(self, index, nil))) }
            return .number(mdl_tonumber(self, index))
        case LUA_TSTRING:
            return .string(withBytes(at: index) { Array($0) } ?? [])
        case LUA_TLIGHTUSERDATA where lua_touserdata(self, index) == nil:
            return .nil
        case LUA_TTABLE:
            guard depth < 100, lua_checkstack(self, 3) != 0 else {
                throw ConversionError(
                    description: "a table nested too deep (or containing itself) cannot be passed to Swift")
            }
            return try tableValue(at: index, depth: depth)
        default:
            let name = String(cString: lua_typename(self, lua_type(self, index)))
            throw ConversionError(description: "a \(name) value cannot be passed to Swift")
        }
    }

    private func tableValue(at index: Int32, depth: Int) throws -> LuaValue {
        var forcedArray = false
        if luaL_getmetafield(self, index, "__jsontype") != LUA_TNIL {
            forcedArray = string(at: -1) == "array"
            mdl_pop(self, 1)
        }
        var fields: [String: LuaValue] = [:]
        var elements: [Int: LuaValue] = [:]
        lua_pushnil(self)
        while lua_next(self, index) != 0 {
            let value: LuaValue
            do {
                value = try luaValue(at: -1, depth: depth + 1)
            } catch {
                mdl_pop(self, 2)
                throw error
            }
            mdl_pop(self, 1)
            switch lua_type(self, -1) {
            case LUA_TSTRING:
                fields[string(at: -1)!] = value
            case LUA_TNUMBER where mdl_isinteger(self, -1) != 0:
                let key = Int(mdl_tointegerx(self, -1, nil))
                if key >= 1 { elements[key] = value } else { fields[String(key)] = value }
            case LUA_TNUMBER:
                fields[String(mdl_tonumber(self, -1))] = value
            default:
                let name = String(cString: lua_typename(self, lua_type(self, -1)))
                mdl_pop(self, 1)
                throw ConversionError(description: "a table with a \(name) key cannot be passed to Swift")
            }
        }
        let isSequence = fields.isEmpty && (elements.isEmpty ? forcedArray : elements.keys.max() == elements.count)
        if isSequence {
            return .array((0..<elements.count).map { elements[$0 + 1]! })
        }
        for (key, value) in elements { fields[String(key)] = value }
        return .table(fields)
    }

    /// Pushes `value`; arrays get the metatable at `arrayMetatable` (the JSON
    /// array marker) so that an empty one stays an array.
    func push(_ value: LuaValue, arrayMetatable: Int32) {
        let arrayMetatable = lua_absindex(self, arrayMetatable)
        switch value {
        case .nil:
            lua_pushnil(self)
        case .boolean(let flag):
            lua_pushboolean(self, flag ? 1 : 0)
        case .integer(let number):
            lua_pushinteger(self, lua_Integer(number))
        case .number(let number):
            lua_pushnumber(self, number)
        case .string(let bytes):
            bytes.withUnsafeBytes { push(bytes: $0) }
        case .array(let elements):
            _ = lua_checkstack(self, 3)
            lua_createtable(self, Int32(clamping: elements.count), 0)
            for (offset, element) in elements.enumerated() {
                push(element, arrayMetatable: arrayMetatable)
                lua_rawseti(self, -2, lua_Integer(offset + 1))
            }
            lua_pushvalue(self, arrayMetatable)
            _ = lua_setmetatable(self, -2)
        case .table(let fields):
            _ = lua_checkstack(self, 3)
            lua_createtable(self, 0, Int32(clamping: fields.count))
            for (key, field) in fields {
                push(key)
                push(field, arrayMetatable: arrayMetatable)
                lua_rawset(self, -3)
            }
        }
    }
}
