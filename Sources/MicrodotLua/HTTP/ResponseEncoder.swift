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
    let isHTTP10: Bool
    var keepAlive: Bool
}

/// What follows the head that `ResponseEncoder` wrote.
enum ResponseBody {
    /// Nothing: the body (if any) is already in the buffer.
    case complete
    /// A file streamed from disk after the head.
    case file(NIOFileHandle, FileRegion)
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
    /// (see `encodePlain`).
    static func encode(
        _ L: OpaquePointer, at index: Int32, request: RequestFraming, date: [UInt8],
        into buffer: inout ByteBuffer
    ) throws -> EncodedResponse {
        let response = lua_absindex(L, index)
        if lua_type(L, response) == LUA_TSTRING, lua_type(L, response + 1) == LUA_TSTRING {
            return try encodePlain(
                L, body: response, contentType: response + 1, status: response + 2,
                request: request, date: date, into: &buffer)
        }
        guard lua_type(L, response) == LUA_TTABLE else { throw Invalid(description: "a response must be a table") }
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }

        LuaStack(L).rawField("status_code", of: response)
        var isInteger: Int32 = 0
        let status = Int(mdl_tointegerx(L, -1, &isInteger))
        guard isInteger != 0, (100...999).contains(status) else {
            throw Invalid(description: "invalid status code in response")
        }

        buffer.writeBytes(statusLine(status, L, response: response))

        // The body decides the framing; the app does not set it.
        let bodyIndex = lua_gettop(L) + 1
        let bodyType = LuaStack(L).rawField("body", of: response)
        var body = ResponseBody.complete
        var length = 0
        switch bodyType {
        case LUA_TSTRING:
            length = Int(lua_rawlen(L, bodyIndex))
        case LUA_TNIL:
            length = 0
        case LUA_TFUNCTION, LUA_TTHREAD:
            body = .stream
        case LUA_TTABLE:
            guard LuaStack(L).rawField("path", of: bodyIndex) == LUA_TSTRING, let path = LuaStack(L).string(at: -1)
            else {
                throw Invalid(description: "a response body table must come from send_file")
            }
            mdl_pop(L, 1)
            let handle: NIOFileHandle
            do {
                handle = try NIOFileHandle(_deprecatedPath: path)
            } catch {
                throw Invalid(description: "cannot open \(path): \(error)")
            }
            // One fstat for the size (FileRegion(fileHandle:) would seek twice).
            let size =
                (try? handle.withUnsafeFileDescriptor { descriptor -> Int? in
                    var info = stat()
                    guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
                    return Int(info.st_size)
                }) ?? nil
            guard let size else {
                try? handle.close()
                throw Invalid(description: "cannot read \(path): not a regular file")
            }
            length = size
            body = .file(handle, FileRegion(fileHandle: handle, readerIndex: 0, endIndex: size))
        default:
            throw Invalid(description: "invalid response body type")
        }

        var keepAlive = request.keepAlive
        var hasDate = false
        do {
            try writeHeaders(L, of: response, into: &buffer, keepAlive: &keepAlive, hasDate: &hasDate)
        } catch {
            if case .file(let handle, _) = body { try? handle.close() }
            throw error
        }
        if !hasDate { buffer.writeBytes(date) }

        let bodyAllowed = !(100...199).contains(status) && status != 204 && status != 304
        var chunked = false
        switch body {
        case .stream where bodyAllowed:
            if request.isHTTP10 {
                keepAlive = false
            } else {
                chunked = true
                buffer.writeStaticString("Transfer-Encoding: chunked\r\n")
            }
        case .stream:
            break
        case .complete, .file:
            if bodyAllowed { writeContentLength(length, into: &buffer) }
        }
        endHead(keepAlive: keepAlive, request: request, into: &buffer)

        let sendsBody = bodyAllowed && !request.isHead
        if case .complete = body, sendsBody, length > 0 {
            LuaStack(L).withBytes(at: bodyIndex) { buffer.writeBytes($0) }
        }
        if case .file(let handle, _) = body, !sendsBody {
            try? handle.close()
            body = .complete
        }
        if case .stream = body, !sendsBody {
            // HEAD, 204, 304: the generator is closed without being run.
            chunked = false
            body = .complete
        }
        return EncodedResponse(status: status, body: body, keepAlive: keepAlive, chunked: chunked)
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
        let statusLine = status == 200 ? nil : standardStatusLine(status)
        var typeLength = 0
        var bodyLength = 0
        guard let typeBytes = mdl_tolstring(L, contentType, &typeLength),
            let bodyBytes = mdl_tolstring(L, body, &bodyLength)
        else {
            throw Invalid(description: "a plain response must be strings")
        }
        let type = UnsafeRawBufferPointer(start: typeBytes, count: typeLength)
        guard !type.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
            throw Invalid(description: "the value of header Content-Type contains CR, LF or NUL")
        }
        let sentBody = request.isHead ? 0 : bodyLength
        // One reservation and one write for the whole response.
        let most = 128 + (statusLine?.count ?? 0) + typeLength + date.count + sentBody
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: most) { memory in
            var out = ByteWriter(memory)
            if let statusLine {
                statusLine.withUnsafeBytes { out.write($0) }
            } else {
                out.write("HTTP/1.1 200 OK\r\n")
            }
            out.write("Content-Type: ")
            out.write(type)
            out.write("\r\n")
            date.withUnsafeBytes { out.write($0) }
            out.write("Content-Length: ")
            out.writeDecimal(bodyLength)
            out.write("\r\n")
            if !request.keepAlive {
                out.write("Connection: close\r\n")
            } else if request.isHTTP10 {
                out.write("Connection: keep-alive\r\n")
            }
            out.write("\r\n")
            out.write(UnsafeRawBufferPointer(start: bodyBytes, count: sentBody))
            return out.count
        }
        return EncodedResponse(status: status, body: .complete, keepAlive: request.keepAlive, chunked: false)
    }

    private static func writeContentLength(_ length: Int, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 40) { memory in
            var out = ByteWriter(memory)
            out.write("Content-Length: ")
            out.writeDecimal(length)
            out.write("\r\n")
            return out.count
        }
    }

    /// The Connection header the framing needs, and the blank line.
    private static func endHead(keepAlive: Bool, request: RequestFraming, into buffer: inout ByteBuffer) {
        if !keepAlive {
            buffer.writeStaticString("Connection: close\r\n")
        } else if request.isHTTP10 {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    private static func statusLine(_ status: Int, _ L: OpaquePointer, response: Int32) -> [UInt8] {
        if LuaStack(L).rawField("reason", of: response) == LUA_TSTRING, let reason = LuaStack(L).string(at: -1),
            !reason.utf8.contains(where: { $0 == 13 || $0 == 10 })
        {
            mdl_pop(L, 1)
            return Array("HTTP/1.1 \(status) \(reason)\r\n".utf8)
        }
        mdl_pop(L, 1)
        return standardStatusLine(status)
    }

    private static func standardStatusLine(_ status: Int) -> [UInt8] {
        if status < standardStatusLines.count, let line = standardStatusLines[status] { return line }
        return Array("HTTP/1.1 \(status) Unknown\r\n".utf8)
    }

    /// By status code, for the codes HTTP names.
    private static let standardStatusLines: [[UInt8]?] = (0...599).map { code in
        let phrase = code >= 100 ? HTTPResponseStatus(statusCode: code).reasonPhrase : ""
        return phrase.isEmpty ? nil : Array("HTTP/1.1 \(code) \(phrase)\r\n".utf8)
    }

    /// Header names the server handles itself, lower-case.
    private static let contentLength = Array("content-length".utf8)
    private static let transferEncoding = Array("transfer-encoding".utf8)
    private static let connection = Array("connection".utf8)
    private static let dateName = Array("date".utf8)

    /// ASCII case-insensitive comparison of a token with a lower-case name
    /// of letters and '-' (`| 0x20` lower-cases a letter and maps no other
    /// token byte onto a letter or '-').
    private static func named(_ bytes: UnsafeRawBufferPointer, _ lowercase: [UInt8]) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for index in 0..<bytes.count where bytes[index] | 0x20 != lowercase[index] {
            return false
        }
        return true
    }

    private enum SpecialHeader {
        case none, skip, connection, date
    }

    private static func writeHeaders(
        _ L: OpaquePointer, of response: Int32, into buffer: inout ByteBuffer,
        keepAlive: inout Bool, hasDate: inout Bool
    ) throws {
        guard LuaStack(L).rawField("headers", of: response) == LUA_TTABLE else {
            if lua_type(L, -1) == LUA_TNIL { return }
            throw Invalid(description: "response headers must be a table")
        }
        let headers = lua_gettop(L)
        lua_pushnil(L)
        while lua_next(L, headers) != 0 {
            let top = lua_gettop(L)
            let special =
                LuaStack(L).withBytes(at: top - 1) { name -> SpecialHeader? in
                    guard isToken(name) else { return nil }
                    if named(name, contentLength) || named(name, transferEncoding) { return .skip }
                    if named(name, connection) { return .connection }
                    if named(name, dateName) { return .date }
                    return SpecialHeader.none
                } ?? nil
            guard let special else {
                let shown = LuaStack(L).string(at: top - 1) ?? "(not a string)"
                mdl_pop(L, 2)
                throw Invalid(description: "invalid header name \(shown)")
            }
            switch special {
            case .skip:
                mdl_pop(L, 1)
                continue
            case .connection:
                if let value = LuaStack(L).string(at: top), value.lowercased().contains("close") { keepAlive = false }
                mdl_pop(L, 1)
                continue
            case .date:
                hasDate = true
            case .none:
                break
            }
            do {
                if lua_type(L, top) == LUA_TTABLE {
                    let count = lua_rawlen(L, top)
                    if count > 0 {
                        for position in 1...count {
                            lua_rawgeti(L, top, lua_Integer(position))
                            try writeHeader(L, name: top - 1, value: lua_gettop(L), into: &buffer)
                            mdl_pop(L, 1)
                        }
                    }
                } else {
                    try writeHeader(L, name: top - 1, value: top, into: &buffer)
                }
            } catch {
                lua_settop(L, headers)
                throw error
            }
            mdl_pop(L, 1)
        }
    }

    /// `name: value\r\n`, straight from Lua's bytes; a value with CR, LF or
    /// NUL is refused.
    private static func writeHeader(_ L: OpaquePointer, name: Int32, value: Int32, into buffer: inout ByteBuffer) throws
    {
        let valueType = lua_type(L, value)
        if valueType == LUA_TNUMBER {
            let text =
                mdl_isinteger(L, value) != 0 ? String(mdl_tointegerx(L, value, nil)) : String(mdl_tonumber(L, value))
            LuaStack(L).withBytes(at: name) { buffer.writeBytes($0) }
            buffer.writeStaticString(": ")
            buffer.writeString(text)
            buffer.writeStaticString("\r\n")
            return
        }
        guard valueType == LUA_TSTRING else {
            throw Invalid(
                description:
                    "the value of header \(LuaStack(L).string(at: name) ?? "") must be a string, a number or an array of strings"
            )
        }
        let clean =
            LuaStack(L).withBytes(at: value) { bytes in
                !bytes.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 })
            } ?? false
        guard clean else {
            throw Invalid(
                description: "the value of header \(LuaStack(L).string(at: name) ?? "") contains CR, LF or NUL")
        }
        LuaStack(L).withBytes(at: name) { buffer.writeBytes($0) }
        buffer.writeStaticString(": ")
        LuaStack(L).withBytes(at: value) { buffer.writeBytes($0) }
        buffer.writeStaticString("\r\n")
    }

    private static func isToken(_ name: UnsafeRawBufferPointer) -> Bool {
        !name.isEmpty && name.allSatisfy { tokenBytes[Int($0)] }
    }

    /// RFC 9110's token characters, by byte value.
    private static let tokenBytes: [Bool] = (0...255).map { value in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// Copies byte runs into memory the caller reserved (enough for all of
/// them): a response head in one ByteBuffer write instead of one per part.
private struct ByteWriter {
    private let memory: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(_ memory: UnsafeMutableRawBufferPointer) {
        self.memory = memory
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(count + bytes.count <= memory.count, "ByteWriter: reservation too small")
        (memory.baseAddress! + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func write(_ text: StaticString) {
        write(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A non-negative integer's digits.
    mutating func writeDecimal(_ value: Int) {
        withDecimalDigits(of: UInt64(max(value, 0))) { write($0) }
    }
}
