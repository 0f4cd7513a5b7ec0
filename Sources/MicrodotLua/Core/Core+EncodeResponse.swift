import CLua
import CLuaRuntime
import NIOCore

enum CoreEncodeResponse: CoreArea {
    static func register(in core: CoreTable) {
        core.set("encode_response", encodeResponse)
    }

    /// `core.encode_response(method, http_version, res [, content_type, status])`: the
    /// bytes the server would write for what `_serve` returned (head, and the
    /// body when it is a string), and what follows them: "complete", "file"
    /// or "stream". The Lua test client reads its responses from these bytes,
    /// so it sees exactly what a socket client sees, header checks included.
    private static let encodeResponse: mdl_SwiftFunction = { L in
        let L = L!
        guard lua_type(L, 3) == LUA_TTABLE || lua_type(L, 3) == LUA_TSTRING else {
            return L.raise("encode_response expects a response")
        }
        let method = L.string(at: 1) ?? "GET"
        let framing = RequestFraming(isHead: method == "HEAD", isHTTP10: L.string(at: 2) == "1.0", keepAlive: true)
        let worker = Worker.from(L)
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        let encoded: EncodedResponse
        do {
            encoded = try ResponseEncoder.encode(
                L, at: 3, request: framing, date: worker.dateHeader.current(), into: &buffer)
        } catch {
            return L.raise("\(error)")
        }
        let kind: String
        switch encoded.body {
        case .complete:
            kind = "complete"
        case .file(let handle, _):
            try? handle.close()
            kind = "file"
        case .stream:
            kind = "stream"
        }
        buffer.withUnsafeReadableBytes { L.push(bytes: $0) }
        L.push(kind)
        return 2
    }
}
