import CLua
import CLuaRuntime
import CRE2

/// Regular expressions for `<re:...>` segments, registered segment types and
/// URL patterns with several `<path:>` segments, compiled once per worker and
/// referred to from Lua by number. The engine is RE2: matching takes time
/// linear in the subject whatever the pattern, so a path chosen by a client
/// cannot make a route pattern backtrack (a Swift `Regex` or a Lua pattern
/// runs in C, where the handler time budget cannot stop it).
final class RegexTable {
    private var expressions: [OpaquePointer] = []

    /// A pattern RE2 refuses.
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    deinit {
        for expression in expressions { mdl_re2_free(expression) }
    }

    /// Compiles `pattern` (RE2 syntax); returns its number and its number of
    /// capturing groups.
    func compile(_ pattern: UnsafeRawBufferPointer) throws -> (number: Int, groups: Int) {
        var message = [CChar](repeating: 0, count: 256)
        let compiled = message.withUnsafeMutableBufferPointer { error in
            mdl_re2_compile(
                pattern.baseAddress?.assumingMemoryBound(to: CChar.self), pattern.count, error.baseAddress, error.count)
        }
        guard let compiled else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw Invalid(description: text)
        }
        expressions.append(compiled)
        return (expressions.count, Int(mdl_re2_groups(compiled)))
    }

    /// Pushes onto `L` an array of the capture groups of a whole match of
    /// expression `number` against `subject` (nil for a group that took
    /// no part), or nil when it does not match.
    func pushCaptures(_ L: OpaquePointer, _ number: Int, in subject: UnsafeRawBufferPointer) {
        guard expressions.indices.contains(number - 1) else {
            lua_pushnil(L)
            return
        }
        let expression = expressions[number - 1]
        let groups = Int(mdl_re2_groups(expression))
        var offsets = [Int](repeating: -1, count: 2 * groups + 2)
        let base = subject.baseAddress?.assumingMemoryBound(to: CChar.self)
        let empty: CChar = 0
        let matched = withUnsafePointer(to: empty) { emptySubject in
            offsets.withUnsafeMutableBufferPointer { buffer in
                mdl_re2_full_match(expression, base ?? emptySubject, subject.count, buffer.baseAddress, Int32(groups))
            }
        }
        guard matched != 0 else {
            lua_pushnil(L)
            return
        }
        lua_createtable(L, Int32(groups), 0)
        for group in 0..<groups {
            let start = offsets[2 * group]
            let end = offsets[2 * group + 1]
            if start < 0 {
                lua_pushnil(L)
            } else {
                lua_pushlstring(L, base! + start, end - start)
            }
            lua_rawseti(L, -2, lua_Integer(group + 1))
        }
    }
}

/// `core.regex_compile(pattern)` and `core.regex_match(number, subject)`:
/// the RE2 expressions behind `re:` route segments, registered segment
/// types and URL patterns with several `<path:>` segments.
enum CoreRegex: CoreArea {
    static func register(in core: CoreTable) {
        core.set("regex_compile", compile)
        core.set("regex_match", match)
    }

    /// `core.regex_compile(pattern)`: the expression's number and its
    /// number of capturing groups; raises when `pattern` is not a valid RE2
    /// expression.
    private static let compile: mdl_SwiftFunction = { L in
        let L = L!
        guard lua_type(L, 1) == LUA_TSTRING else {
            return LuaStack(L).raise("regex_compile expects a string")
        }
        do {
            let compiled = try LuaStack(L).withBytes(at: 1) { try Worker.from(L).regexes.compile($0) }
            guard let compiled else { return LuaStack(L).raise("regex_compile expects a string") }
            lua_pushinteger(L, lua_Integer(compiled.number))
            lua_pushinteger(L, lua_Integer(compiled.groups))
            return 2
        } catch {
            let pattern = LuaStack(L).string(at: 1) ?? ""
            return LuaStack(L).raise("invalid regular expression \(pattern): \(error)")
        }
    }

    /// `core.regex_match(number, subject)`: the capture groups of a whole
    /// match, as an array (nil for a group that took no part), or nil.
    private static let match: mdl_SwiftFunction = { L in
        let L = L!
        let number = Int(mdl_tointegerx(L, 1, nil))
        guard lua_type(L, 2) == LUA_TSTRING else {
            lua_pushnil(L)
            return 1
        }
        let regexes = Worker.from(L).regexes
        LuaStack(L).withBytes(at: 2) { regexes.pushCaptures(L, number, in: $0) }
        return 1
    }
}
