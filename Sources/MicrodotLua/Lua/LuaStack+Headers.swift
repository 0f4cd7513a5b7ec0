import CLua
import NIOHTTP1

extension LuaStack {
    /// Pushes request `headers` as a Lua table of name -> value, a name that
    /// repeats folded into one value (`HeaderFolding`).
    func pushHeaders(_ headers: HTTPHeaders) {
        lua_createtable(L, 0, Int32(headers.count))
        let table = lua_gettop(L)
        for (name, value) in headers {
            push(name)
            lua_pushvalue(L, -1)
            if lua_rawget(L, table) == LUA_TSTRING, let previous = string(at: -1) {
                mdl_pop(L, 1)
                push(HeaderFolding.joined(previous, value, name: name))
            } else {
                mdl_pop(L, 1)
                push(value)
            }
            lua_rawset(L, table)
        }
    }
}
