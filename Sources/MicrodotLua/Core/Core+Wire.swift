import CLua
import CLuaRuntime

/// `core.header_problem(name, value)` and `core.reason_problem(reason)`: the
/// response encoder's wire rules (RFC 9110 field-name and field-value, RFC
/// 9112 reason-phrase), offered to the framework so that `Response(...)`,
/// `redirect` and `send_file` refuse a bad value where the app passed it,
/// naming its file and line. The encoder applies the same functions to
/// whatever reaches the wire, including headers assigned later.
enum CoreWire: CoreArea {
    static func register(in core: CoreTable) {
        core.set("header_problem", headerProblem)
        core.set("reason_problem", reasonProblem)
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
