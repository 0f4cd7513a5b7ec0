import CLua
import CLuaRuntime

/// Regular expressions for `<re:...>` segments and registered segment types,
/// compiled once per worker and referred to from Lua by number.
struct RegexTable {
    private var expressions: [Regex<AnyRegexOutput>] = []

    /// Compiles `pattern`; returns its number.
    mutating func compile(_ pattern: String) throws -> Int {
        let expression = try Regex(pattern)
        expressions.append(expression)
        return expressions.count
    }

    /// The capture groups of a whole match of expression `number`, or nil.
    func captures(_ number: Int, in subject: String) -> [Substring?]? {
        guard expressions.indices.contains(number - 1),
            let match = try? expressions[number - 1].wholeMatch(in: subject)
        else { return nil }
        return match.output.dropFirst().map { $0.substring }
    }
}

/// `core.regex_compile(pattern)` and `core.regex_match(number, subject)`:
/// the Swift regexes behind `re:` route segments and registered segment types.
enum CoreRegex: CoreArea {
    static func register(in core: CoreTable) {
        core.set("regex_compile", compile)
        core.set("regex_match", match)
    }

    /// `core.regex_compile(pattern)`: the expression's number; raises when
    /// `pattern` is not a valid Swift regex.
    private static let compile: mdl_SwiftFunction = { L in
        let L = L!
        guard let pattern = LuaStack(L).string(at: 1) else {
            return LuaStack(L).raise("regex_compile expects a string")
        }
        do {
            let number = try Worker.from(L).regexes.compile(pattern)
            lua_pushinteger(L, lua_Integer(number))
            return 1
        } catch {
            return LuaStack(L).raise("invalid regular expression \(pattern): \(error)")
        }
    }

    /// `core.regex_match(number, subject)`: the capture groups of a whole
    /// match, as an array (nil for a group that took no part), or nil.
    private static let match: mdl_SwiftFunction = { L in
        let L = L!
        let number = Int(mdl_tointegerx(L, 1, nil))
        guard let subject = LuaStack(L).string(at: 2),
            let captures = Worker.from(L).regexes.captures(number, in: subject)
        else {
            lua_pushnil(L)
            return 1
        }
        lua_createtable(L, Int32(captures.count), 0)
        for (offset, capture) in captures.enumerated() {
            if let capture { LuaStack(L).push(String(capture)) } else { lua_pushnil(L) }
            lua_rawseti(L, -2, lua_Integer(offset + 1))
        }
        return 1
    }
}
