import CLua
import CLuaRuntime

/// `core.header_problem(name, value)` and `core.reason_problem(reason)`: the
/// response encoder's wire rules (RFC 9110 field-name and field-value, RFC
/// 9112 reason-phrase), offered to the framework so that `Response(...)`,
/// `redirect` and `send_file` refuse a bad value where the app passed it,
/// naming its file and line; and `core.response_problem(...)`, the whole
/// response checked by those rules once it is final. The encoder applies
/// the same functions to whatever reaches the wire.
enum CoreWire: CoreArea {
    static func register(in core: CoreTable) {
        core.set("header_problem", headerProblem)
        core.set("reason_problem", reasonProblem)
        // The field names, kept as upvalues: pushing them costs a copy, not
        // the hashing of a new string on every response.
        for key in ["status_code", "reason", "headers", "body", "path"] { LuaStack(core.L).push(key) }
        LuaStack(core.L).pushFunction(responseProblem, upvalues: 5)
        core.setTop(as: "response_problem")
    }

    /// `core.response_problem(res)`: nil when the response table `res` can
    /// be written as it is, else what is wrong, naming the value; then
    /// whether its body is a stream. The dispatcher asks it once a response
    /// is final (after every hook), so that a value assigned after the
    /// Response was made (`res.status_code = "abc"`, a header value `true`,
    /// `res.body = 42`) is a 500 through the app's error handling rather
    /// than the encoder's bare one.
    private static let responseProblem: mdl_SwiftFunction = { L in
        let L = L!
        guard lua_type(L, 1) == LUA_TTABLE else {
            LuaStack(L).push("a response must be a table, got \(LuaStack(L).describe(at: 1))")
            return 1
        }
        lua_settop(L, 1)
        for key: Int32 in 1...4 {
            lua_pushvalue(L, mdl_upvalueindex(key))
            lua_rawget(L, 1)
        }
        let (problem, streams) = ResponseCheck.problem(
            L, status: 2, reason: 3, headers: 4, body: 5, pathKey: mdl_upvalueindex(5))
        if let problem {
            LuaStack(L).push(problem)
        } else {
            lua_pushnil(L)
        }
        lua_pushboolean(L, streams ? 1 : 0)
        return 2
    }

    /// `core.header_problem(name, value)`: nil when `name: value` may be
    /// written (`value` a string or a number), else a message saying why not.
    private static let headerProblem: mdl_SwiftFunction = { L in
        let L = L!
        guard lua_type(L, 1) == LUA_TSTRING else {
            LuaStack(L).push("a header name must be a string")
            return 1
        }
        let name = LuaStack(L).string(at: 1) ?? ""
        if let problem = LuaStack(L).withBytes(at: 1, ResponseEncoder.fieldNameProblem) ?? nil {
            LuaStack(L).push("invalid header name \(name): it \(problem)")
            return 1
        }
        switch lua_type(L, 2) {
        case LUA_TNUMBER where mdl_isinteger(L, 2) == 0 && !mdl_tonumber(L, 2).isFinite:
            LuaStack(L).push("invalid value for header \(name): \(mdl_tonumber(L, 2)) is not a finite number")
        case LUA_TNUMBER:
            lua_pushnil(L)
        case LUA_TSTRING:
            if let problem = LuaStack(L).withBytes(at: 2, ResponseEncoder.fieldValueProblem) ?? nil {
                LuaStack(L).push("invalid value for header \(name): it \(problem)")
            } else {
                lua_pushnil(L)
            }
        default:
            LuaStack(L).push("the value of header \(name) must be a string, a number or an array of strings")
        }
        return 1
    }

    /// `core.reason_problem(reason)`: nil when `reason` may be a status
    /// line's reason phrase, else a message saying why not.
    private static let reasonProblem: mdl_SwiftFunction = { L in
        let L = L!
        if lua_type(L, 1) == LUA_TSTRING,
            let problem = LuaStack(L).withBytes(at: 1, ResponseEncoder.reasonPhraseProblem) ?? nil
        {
            LuaStack(L).push("invalid reason phrase: it \(problem)")
        } else {
            lua_pushnil(L)
        }
        return 1
    }
}

/// What `ResponseEncoder` would refuse in a response, found before anything
/// is written, with the value named: the same rules (status 200-999, RFC
/// 9110 header names and values, RFC 9112 reason phrase, the body kinds it
/// sends), on values read without metamethods.
enum ResponseCheck {
    /// The problem (nil when a response with these fields, at stack indices,
    /// can be written) and whether the body is a stream. `pathKey` holds
    /// "path", the field of a send_file body.
    static func problem(
        _ L: OpaquePointer, status: Int32, reason: Int32, headers: Int32, body: Int32, pathKey: Int32
    ) -> (String?, Bool) {
        let bodyType = lua_type(L, body)
        let streams = bodyType == LUA_TFUNCTION || bodyType == LUA_TTHREAD
        if let problem = fieldsProblem(L, status: status, reason: reason, headers: headers) {
            return (problem, streams)
        }
        return (bodyProblem(L, at: body, pathKey: pathKey), streams)
    }

    private static func fieldsProblem(_ L: OpaquePointer, status: Int32, reason: Int32, headers: Int32) -> String? {
        let stack = LuaStack(L)
        var isInteger: Int32 = 0
        let code = mdl_tointegerx(L, status, &isInteger)
        if lua_type(L, status) != LUA_TNUMBER || isInteger == 0 || !(200...999).contains(code) {
            return
                "res.status_code must be an integer from 200 to 999 (1xx are interim), got \(stack.describe(at: status))"
        }
        switch lua_type(L, reason) {
        case LUA_TNIL, LUA_TNONE: break
        case LUA_TSTRING:
            if let problem = stack.withBytes(at: reason, ResponseEncoder.reasonPhraseProblem) ?? nil {
                return "the reason phrase \(problem): \(stack.describe(at: reason))"
            }
        default: return "res.reason must be a string, got \(stack.describe(at: reason))"
        }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        return headersProblem(L, at: lua_absindex(L, headers))
    }

    private static func headersProblem(_ L: OpaquePointer, at headers: Int32) -> String? {
        let stack = LuaStack(L)
        switch lua_type(L, headers) {
        case LUA_TNIL, LUA_TNONE: return nil
        case LUA_TTABLE: break
        default: return "res.headers must be a table, got \(stack.describe(at: headers))"
        }
        lua_pushnil(L)
        while lua_next(L, headers) != 0 {
            let name = lua_gettop(L) - 1
            guard lua_type(L, name) == LUA_TSTRING else {
                return "a header name must be a string, got \(stack.describe(at: name))"
                    + " (headers are a table of name = value; a status goes before them: return body, 200, headers)"
            }
            if let problem = stack.withBytes(at: name, ResponseEncoder.fieldNameProblem) ?? nil {
                return "the header name \(String(reflecting: stack.string(at: name) ?? "")) \(problem)"
            }
            if lua_type(L, -1) == LUA_TTABLE {
                let list = lua_gettop(L)
                let count = lua_rawlen(L, list)
                for position in 0..<count {
                    lua_rawgeti(L, list, lua_Integer(position + 1))
                    if let problem = valueProblem(L, name: name) { return problem }
                    mdl_pop(L, 1)
                }
            } else if let problem = valueProblem(L, name: name) {
                return problem
            }
            mdl_pop(L, 1)
        }
        return nil
    }

    /// The header value on top of the stack, of the name at `name`: a
    /// string that is a field-value, or a number.
    private static func valueProblem(_ L: OpaquePointer, name: Int32) -> String? {
        let stack = LuaStack(L)
        switch lua_type(L, -1) {
        case LUA_TNUMBER where mdl_isinteger(L, -1) == 0 && !mdl_tonumber(L, -1).isFinite:
            return
                "the value of header \(stack.string(at: name) ?? "") is not a finite number: \(stack.describe(at: -1))"
        case LUA_TNUMBER:
            return nil
        case LUA_TSTRING:
            guard let problem = stack.withBytes(at: -1, ResponseEncoder.fieldValueProblem) ?? nil else { return nil }
            return "the value of header \(stack.string(at: name) ?? "") \(problem): \(stack.describe(at: -1))"
        default:
            return "the value of header \(stack.string(at: name) ?? "") must be a string, a number or an array of "
                + "strings, got \(stack.describe(at: -1))"
        }
    }

    private static func bodyProblem(_ L: OpaquePointer, at body: Int32, pathKey: Int32) -> String? {
        let stack = LuaStack(L)
        switch lua_type(L, body) {
        case LUA_TNIL, LUA_TSTRING, LUA_TFUNCTION, LUA_TTHREAD:
            return nil
        case LUA_TTABLE:
            lua_pushvalue(L, pathKey)
            defer { mdl_pop(L, 1) }
            if lua_rawget(L, body) == LUA_TSTRING { return nil }
            return "res.body must be a string, a generator or send_file's file, got a table "
                + "(a table is encoded as JSON by Response(...) only: assign microdot.json.encode(t))"
        case LUA_TNUMBER:
            return "res.body must be a string, a generator or send_file's file, got \(stack.describe(at: body)) "
                + "(a number is converted by Response(...) only: assign tostring(n))"
        default:
            return "res.body must be a string, a generator or send_file's file, got \(stack.describe(at: body))"
        }
    }
}
