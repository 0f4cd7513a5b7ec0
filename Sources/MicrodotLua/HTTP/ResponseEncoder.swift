import CLua
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the connection needs to know of the request it answers.
struct RequestFraming {
    let isHead: Bool
    /// GET: the one method a `Range` applies to (RFC 9110 section 14.2).
    var isGet = false
    let isHTTP10: Bool
    var keepAlive: Bool
}

/// What follows the head that `ResponseEncoder` wrote.
enum ResponseBody {
    /// Nothing: the body (if any) is already in the buffer.
    case complete
    /// A file (or the part of it a range asked for) sent after the head.
    case file(OpenFile, FileRegion)
    /// Chunks the Lua generator gives, chunked for HTTP/1.1.
    case stream
}

struct EncodedResponse {
    let status: Int
    let body: ResponseBody
    /// False when the connection must close after this response.
    let keepAlive: Bool
    /// Whether a streamed body is chunk-encoded (else it ends at close).
    let chunked: Bool
    /// `--gzip` compresses the stream or file that follows the head.
    var gzip: GzipStream? = nil
    /// Body bytes sent with the head or as its file (a stream's chunks are
    /// counted as they go): the access log's `$body_bytes_sent`.
    var bodyBytes = 0
}

/// Turns a Lua response table into HTTP/1.1 bytes. Header names and values
/// are checked here, at the one place everything passes before the wire, so
/// nothing the app sets can inject a header or split a response.
enum ResponseEncoder {
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// Encodes the response at `index`: a response table, or a body string
    /// with its Content-Type at `index + 1` and its status at `index + 2`
    /// (see `encodePlain`). The stack is left as it was.
    /// A `send_file` body is found in `files` (else opened), and a 200 to
    /// a GET or HEAD goes through `requestHeaders`' conditions (`FilePlan`).
    /// With `gzip` (`--gzip`), an eligible response is compressed when
    /// `requestHeaders` accept it (`GzipRules`, `GzipPlan`). `extra` are
    /// header lines the server adds (`X-Request-Id`).
    static func encode(
        _ L: OpaquePointer, at index: Int32, request: RequestFraming, date: [UInt8],
        into buffer: inout ByteBuffer, files: OpenFileCache, requestHeaders: HTTPHeaders, gzip gzipOn: Bool = false,
        extra: [UInt8] = []
    ) throws -> EncodedResponse {
        let response = lua_absindex(L, index)
        if lua_type(L, response) == LUA_TSTRING, lua_type(L, response + 1) == LUA_TSTRING {
            if gzipOn,
                let encoded = try encodePlainGzip(
                    L, body: response, contentType: response + 1, status: response + 2,
                    request: request, date: extra.isEmpty ? date : date + extra, into: &buffer,
                    requestHeaders: requestHeaders)
            {
                return encoded
            }
            return try encodePlain(
                L, body: response, contentType: response + 1, status: response + 2,
                request: request, date: extra.isEmpty ? date : date + extra, into: &buffer)
        }
        guard lua_type(L, response) == LUA_TTABLE else { throw Invalid(description: "a response must be a table") }
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }

        var status = try readStatus(L, of: response)
        var body = try readBody(L, of: response, files: files)
        var gzip = gzipOn ? gzipPlan(L, response: response, status: status, body: body, request: requestHeaders) : nil
        var plan: FilePlan?
        if case .file(let file, _) = body.kind, status == 200, request.isGet || request.isHead {
            plan = FilePlan.make(
                L, response: response, file: file, conditions: FileConditions(requestHeaders), isGet: request.isGet,
                compressing: gzip?.compresses ?? false)
        }
        if let plan, plan.outcome != .whole {
            status = plan.status
            buffer.writeBytes(StatusLine.standard(status))
            apply(plan, to: &body)
            // A 304 keeps the Vary of the 200 it stands for.
            gzip?.compresses = false
            if plan.outcome != .notModified { gzip = nil }
        } else {
            try writeStatusLine(status, L, response: response, into: &buffer)
        }
        var keepAlive = request.keepAlive
        let omitted = (plan?.omission ?? []).union(gzip?.omission ?? [])
        let hasDate = try writeHeaders(L, of: response, into: &buffer, keepAlive: &keepAlive, omitting: omitted)
        if !hasDate { buffer.writeBytes(date) }
        if !extra.isEmpty { buffer.writeBytes(extra) }
        plan?.writeHeaders(into: &buffer)
        gzip?.writeHeaders(into: &buffer)
        var compressed: ByteBuffer?
        var streamed = false
        if case .stream = body.kind { streamed = true }
        if gzip?.compresses == true {
            if case .complete = body.kind {
                compressed = try LuaStack(L).withBytes(at: body.index) {
                    try GzipStream.compress($0)
                }
                body.length = compressed?.readableBytes ?? 0
            } else {
                // A compressed file's length is known once it is sent.
                streamed = true
            }
        }
        let bodyAllowed = !(100...199).contains(status) && status != 204 && status != 304
        let chunked = writeFraming(
            body, streamed: streamed, bodyAllowed: bodyAllowed, request: request, keepAlive: &keepAlive,
            into: &buffer)

        // What the head announces is not always sent: HEAD, 204 and 304
        // have no body; an unsent file is closed, an unrun generator too.
        let sendsBody = bodyAllowed && !request.isHead
        switch body.kind {
        case .complete:
            if sendsBody, body.length > 0 {
                if let compressed {
                    buffer.writeImmutableBuffer(compressed)
                } else if let text = body.text {
                    buffer.writeStaticString(text)
                } else {
                    LuaStack(L).withBytes(at: body.index) { buffer.writeBytes($0) }
                }
            }
        case .file:
            if !sendsBody { body.kind = .complete }
        case .stream:
            if !sendsBody { body.kind = .complete }
        }
        let streamsChunks = chunked && sendsBody
        var encoded = EncodedResponse(status: status, body: body.kind, keepAlive: keepAlive, chunked: streamsChunks)
        if gzip?.compresses == true, sendsBody, streamed { encoded.gzip = try GzipStream(chunked: streamsChunks) }
        switch body.kind {
        case .complete: encoded.bodyBytes = sendsBody ? body.length : 0
        case .file(_, let region): encoded.bodyBytes = region.readableBytes
        case .stream: break
        }
        return encoded
    }

    /// A response given as a body string, its Content-Type and its status
    /// (200 when absent; one that has a body), the form the Lua side returns
    /// when no Response object was needed: the same bytes as the table form,
    /// without reading a table.
    private static func encodePlain(
        _ L: OpaquePointer, body: Int32, contentType: Int32, status statusIndex: Int32, request: RequestFraming,
        date: [UInt8], into buffer: inout ByteBuffer
    ) throws -> EncodedResponse {
        var status = 200
        if lua_type(L, statusIndex) == LUA_TNUMBER {
            var isInteger: Int32 = 0
            status = Int(mdl_tointegerx(L, statusIndex, &isInteger))
            guard isInteger != 0, (200...599).contains(status), status != 204, status != 304 else {
                throw Invalid(description: "invalid status code in response")
            }
        }
        var typeLength = 0
        var bodyLength = 0
        guard let typeBytes = mdl_tolstring(L, contentType, &typeLength),
            let bodyBytes = mdl_tolstring(L, body, &bodyLength)
        else {
            throw Invalid(description: "a plain response must be strings")
        }
        let type = UnsafeRawBufferPointer(start: typeBytes, count: typeLength)
        if let problem = fieldValueProblem(type) {
            throw Invalid(description: "the value of header Content-Type \(problem)")
        }
        PlainResponse.write(
            status: status, contentType: type, body: UnsafeRawBufferPointer(start: bodyBytes, count: bodyLength),
            sendsBody: !request.isHead,
            connection: ConnectionHeader(keepAlive: request.keepAlive, isHTTP10: request.isHTTP10),
            date: date, into: &buffer)
        return EncodedResponse(
            status: status, body: .complete, keepAlive: request.keepAlive, chunked: false,
            bodyBytes: request.isHead ? 0 : bodyLength)
    }

    // MARK: Parts of a response table

    private static func readStatus(_ L: OpaquePointer, of response: Int32) throws -> Int {
        LuaStack(L).rawField("status_code", of: response)
        var isInteger: Int32 = 0
        let status = Int(mdl_tointegerx(L, -1, &isInteger))
        mdl_pop(L, 1)
        guard isInteger != 0, (200...999).contains(status) else {
            throw Invalid(description: "invalid status code in response")
        }
        return status
    }

    /// The app's reason phrase when it set one, else the standard one; a
    /// reason that is not an RFC 9112 reason-phrase is refused.
    private static func writeStatusLine(
        _ status: Int, _ L: OpaquePointer, response: Int32, into buffer: inout ByteBuffer
    ) throws {
        defer { mdl_pop(L, 1) }
        guard LuaStack(L).rawField("reason", of: response) == LUA_TSTRING else {
            buffer.writeBytes(StatusLine.standard(status))
            return
        }
        if let problem = LuaStack(L).withBytes(at: -1, reasonPhraseProblem) ?? nil {
            throw Invalid(description: "the reason phrase \(problem)")
        }
        buffer.writeString("HTTP/1.1 \(status) ")
        LuaStack(L).withBytes(at: -1) { buffer.writeBytes($0) }
        buffer.writeStaticString("\r\n")
    }

    /// A response table's body, read before the head is written because it
    /// decides the framing (the app does not set it).
    struct TableBody {
        var kind: ResponseBody
        /// The Content-Length of a complete or file body.
        var length = 0
        /// The stack slot of the body value, left pushed.
        let index: Int32
        /// The server's own body, instead of the value at `index`.
        var text: StaticString?
    }

    /// The body `plan` calls for: a part of the file, a text, or (304)
    /// nothing, which the status rules out.
    private static func apply(_ plan: FilePlan, to body: inout TableBody) {
        if let text = plan.errorBody {
            body.kind = .complete
            body.text = text
            body.length = text.utf8CodeUnitCount
        } else if case .partial(let range) = plan.outcome {
            body.kind = .file(
                plan.file,
                FileRegion(fileHandle: plan.file.handle, readerIndex: range.lowerBound, endIndex: range.upperBound + 1))
            body.length = range.count
        }
    }

    /// Pushes the body field and reads its kind: a string, nothing, a
    /// generator (streamed), or a `send_file` table (a file).
    private static func readBody(_ L: OpaquePointer, of response: Int32, files: OpenFileCache) throws -> TableBody {
        let index = lua_gettop(L) + 1
        switch LuaStack(L).rawField("body", of: response) {
        case LUA_TSTRING:
            return TableBody(kind: .complete, length: Int(lua_rawlen(L, index)), index: index)
        case LUA_TNIL:
            return TableBody(kind: .complete, index: index)
        case LUA_TFUNCTION, LUA_TTHREAD:
            return TableBody(kind: .stream, index: index)
        case LUA_TTABLE:
            guard LuaStack(L).rawField("path", of: index) == LUA_TSTRING else {
                throw Invalid(description: "a response body table must come from send_file")
            }
            defer { mdl_pop(L, 1) }
            // What send_file opened in this request; else (a body whose path
            // was changed since) the path opened now.
            let opened = LuaStack(L).withBytes(at: -1) { files.recent($0).map { .success($0) } ?? files.open($0) }
            switch opened {
            case .success(let file):
                return TableBody(
                    kind: .file(file, FileRegion(fileHandle: file.handle, readerIndex: 0, endIndex: file.size)),
                    length: file.size, index: index)
            case .failure(.notRegular), .failure(.directory):
                throw Invalid(description: "cannot read \(LuaStack(L).string(at: -1) ?? ""): not a regular file")
            case .failure(let failure):
                throw Invalid(description: "cannot open \(LuaStack(L).string(at: -1) ?? ""): \(failure.reason)")
            case nil:
                throw Invalid(description: "a response body table must come from send_file")
            }
        default:
            throw Invalid(description: "invalid response body type")
        }
    }

    /// Content-Length or chunked Transfer-Encoding, the Connection header and
    /// the blank line; returns whether a stream is chunk-encoded. An
    /// HTTP/1.0 stream has no chunks: it ends when the connection closes.
    private static func writeFraming(
        _ body: TableBody, streamed: Bool, bodyAllowed: Bool, request: RequestFraming, keepAlive: inout Bool,
        into buffer: inout ByteBuffer
    ) -> Bool {
        var chunked = false
        if streamed, bodyAllowed {
            if request.isHTTP10 {
                keepAlive = false
            } else {
                chunked = true
                buffer.writeStaticString("Transfer-Encoding: chunked\r\n")
            }
        } else if !streamed, bodyAllowed {
            writeContentLength(body.length, into: &buffer)
        }
        buffer.writeStaticString(ConnectionHeader(keepAlive: keepAlive, isHTTP10: request.isHTTP10).line)
        buffer.writeStaticString("\r\n")
        return chunked
    }

    static func writeContentLength(_ length: Int, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 40) { memory in
            var out = ByteWriter(memory)
            out.write("Content-Length: ")
            out.writeDecimal(length)
            out.write("\r\n")
            return out.count
        }
    }
}
