import CLua
import CLuaRuntime
import Crypto

/// `core.websocket_accept(key)`: what `microdot.websocket` answers a
/// handshake with.
enum CoreWebSocket: CoreArea {
    static func register(in core: CoreTable) {
        core.set("websocket_accept", accept)
    }

    /// RFC 6455 section 4.2.2: the `Sec-WebSocket-Accept` for a
    /// `Sec-WebSocket-Key`, base64(SHA-1(key .. GUID)) with swift-crypto's SHA-1.
    static func acceptValue(for key: [UInt8]) -> String {
        let digest = Insecure.SHA1.hash(data: key + Array("258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8))
        // Standard base64 (RFC 4648 section 4) from base64url: two letters
        // differ, and the padding.
        var text = Base64.urlEncode(Array(digest)).map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }
        while text.count % 4 != 0 { text.append("=") }
        return String(text)
    }

    private static let accept: mdl_SwiftFunction = { L in
        let L = L!
        guard lua_type(L, 1) == LUA_TSTRING, let key = LuaStack(L).withBytes(at: 1, { Array($0) }) else {
            return LuaStack(L).raise("websocket_accept expects a string")
        }
        LuaStack(L).push(acceptValue(for: key))
        return 1
    }
}
