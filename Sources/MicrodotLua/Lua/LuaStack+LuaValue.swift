import CLua

extension LuaStack {
    struct ConversionError: Error, CustomStringConvertible {
        let description: String
    }

    /// The Lua value at `index` as a `LuaValue`. Functions, userdata and
    /// threads cannot cross (`microdot.json.null` becomes `.nil`), nor can
    /// tables nested deeper than 100 or that contain themselves.
    func luaValue(at index: Int32, depth: Int = 0) throws -> LuaValue {
        let index = lua_absindex(L, index)
        switch lua_type(L, index) {
        case LUA_TNIL, LUA_TNONE:
            return .nil
        case LUA_TBOOLEAN:
            return .boolean(lua_toboolean(L, index) != 0)
        case LUA_TNUMBER:
            if mdl_isinteger(L, index) != 0 { return .integer(Int(mdl_tointegerx(L, index, nil))) }
            return .number(mdl_tonumber(L, index))
        case LUA_TSTRING:
            return .string(withBytes(at: index) { Array($0) } ?? [])
        case LUA_TLIGHTUSERDATA where lua_touserdata(L, index) == nil:
            return .nil
        case LUA_TTABLE:
            guard depth < 100, lua_checkstack(L, 3) != 0 else {
                throw ConversionError(
                    description: "a table nested too deep (or containing itself) cannot be passed to Swift")
            }
            return try tableValue(at: index, depth: depth)
        default:
            let name = String(cString: lua_typename(L, lua_type(L, index)))
            throw ConversionError(description: "a \(name) value cannot be passed to Swift")
        }
    }

    private func tableValue(at index: Int32, depth: Int) throws -> LuaValue {
        var forcedArray = false
        if luaL_getmetafield(L, index, "__jsontype") != LUA_TNIL {
            forcedArray = string(at: -1) == "array"
            mdl_pop(L, 1)
        }
        var fields: [String: LuaValue] = [:]
        var elements: [Int: LuaValue] = [:]
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            let value: LuaValue
            do {
                value = try luaValue(at: -1, depth: depth + 1)
            } catch {
                mdl_pop(L, 2)
                throw error
            }
            mdl_pop(L, 1)
            switch lua_type(L, -1) {
            case LUA_TSTRING:
                fields[string(at: -1)!] = value
            case LUA_TNUMBER where mdl_isinteger(L, -1) != 0:
                let key = Int(mdl_tointegerx(L, -1, nil))
                if key >= 1 { elements[key] = value } else { fields[String(key)] = value }
            case LUA_TNUMBER:
                fields[String(mdl_tonumber(L, -1))] = value
            default:
                let name = String(cString: lua_typename(L, lua_type(L, -1)))
                mdl_pop(L, 1)
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
        let arrayMetatable = lua_absindex(L, arrayMetatable)
        switch value {
        case .nil:
            lua_pushnil(L)
        case .boolean(let flag):
            lua_pushboolean(L, flag ? 1 : 0)
        case .integer(let number):
            lua_pushinteger(L, lua_Integer(number))
        case .number(let number):
            lua_pushnumber(L, number)
        case .string(let bytes):
            bytes.withUnsafeBytes { push(bytes: $0) }
        case .array(let elements):
            _ = lua_checkstack(L, 3)
            lua_createtable(L, Int32(clamping: elements.count), 0)
            for (offset, element) in elements.enumerated() {
                push(element, arrayMetatable: arrayMetatable)
                lua_rawseti(L, -2, lua_Integer(offset + 1))
            }
            lua_pushvalue(L, arrayMetatable)
            _ = lua_setmetatable(L, -2)
        case .table(let fields):
            _ = lua_checkstack(L, 3)
            lua_createtable(L, 0, Int32(clamping: fields.count))
            for (key, field) in fields {
                push(key)
                push(field, arrayMetatable: arrayMetatable)
                lua_rawset(L, -3)
            }
        }
    }
}
