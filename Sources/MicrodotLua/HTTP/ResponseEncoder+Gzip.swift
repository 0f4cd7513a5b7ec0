import CLua
import NIOCore
import NIOHTTP1

/// `--gzip` in the encoder: which responses are eligible, and the plain
/// form (a body string and its type) compressed.
extension ResponseEncoder {
    /// The plan for a response table with `status` and `body`, or nil when
    /// it is not eligible: a status without a compressible body, a
    /// complete body or file under `GzipRules.minimumLength` bytes (a
    /// stream is eligible whatever it turns out to hold), or what its
    /// headers say (`GzipPlan.make`).
    static func gzipPlan(
        _ L: OpaquePointer, response: Int32, status: Int, body: TableBody, request requestHeaders: HTTPHeaders
    ) -> GzipPlan? {
        guard GzipRules.allows(status: status) else { return nil }
        switch body.kind {
        case .complete, .file:
            guard body.length >= GzipRules.minimumLength else { return nil }
        case .stream:
            break
        }
        return GzipPlan.make(L, response: response, accepts: GzipRules.accepts(requestHeaders))
    }

    /// A plain response (see `encodePlain`) that is eligible, with `Vary`
    /// and, when the request takes gzip, compressed; nil when it is not
    /// eligible (then `encodePlain` writes it).
    static func encodePlainGzip(
        _ L: OpaquePointer, body: Int32, contentType: Int32, status statusIndex: Int32, request: RequestFraming,
        date: [UInt8], into buffer: inout ByteBuffer, requestHeaders: HTTPHeaders
    ) throws -> EncodedResponse? {
        var status = 200
        if lua_type(L, statusIndex) == LUA_TNUMBER {
            var isInteger: Int32 = 0
            status = Int(mdl_tointegerx(L, statusIndex, &isInteger))
            // encodePlain refuses what is not a status.
            guard isInteger != 0, (200...599).contains(status), GzipRules.allows(status: status) else { return nil }
        }
        guard lua_rawlen(L, body) >= GzipRules.minimumLength,
            LuaStack(L).withBytes(
                at: contentType,
                { type in
                    fieldValueProblem(type) == nil && GzipRules.compresses(contentType: type)
                }) == true
        else { return nil }
        let compresses = GzipRules.accepts(requestHeaders)
        var compressed: ByteBuffer?
        if compresses {
            compressed = try LuaStack(L).withBytes(at: body) { try GzipStream.compress($0) }
        }
        buffer.writeBytes(StatusLine.standard(status))
        buffer.writeStaticString("Content-Type: ")
        LuaStack(L).withBytes(at: contentType) { buffer.writeBytes($0) }
        buffer.writeStaticString("\r\n")
        buffer.writeBytes(date)
        GzipPlan.writePlainHeaders(compresses: compresses, into: &buffer)
        writeContentLength(compressed?.readableBytes ?? Int(lua_rawlen(L, body)), into: &buffer)
        buffer.writeStaticString(ConnectionHeader(keepAlive: request.keepAlive, isHTTP10: request.isHTTP10).line)
        buffer.writeStaticString("\r\n")
        if !request.isHead {
            if let compressed {
                buffer.writeImmutableBuffer(compressed)
            } else {
                LuaStack(L).withBytes(at: body) { buffer.writeBytes($0) }
            }
        }
        var encoded = EncodedResponse(status: status, body: .complete, keepAlive: request.keepAlive, chunked: false)
        encoded.bodyBytes = request.isHead ? 0 : compressed?.readableBytes ?? Int(lua_rawlen(L, body))
        return encoded
    }
}
