import NIOCore
import NIOHTTP1

/// A response whose head holds only Content-Type, Date, Content-Length and
/// Connection, and whose body is complete: the form a Lua handler's plain
/// return takes, and every response the server writes on its own. One
/// reservation and one write for the whole response.
enum PlainResponse {
    /// Writes status line, head and (when `sendsBody`; not for HEAD) body.
    /// `date` is the whole `Date: ...\r\n` line. Content-Length is always
    /// the body's length.
    static func write(
        status: Int, contentType: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, sendsBody: Bool,
        connection: ConnectionHeader, date: [UInt8], into buffer: inout ByteBuffer
    ) {
        let statusLine = status == 200 ? nil : StatusLine.standard(status)
        let sentBody = sendsBody ? body.count : 0
        let most = 128 + (statusLine?.count ?? 0) + contentType.count + date.count + sentBody
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: most) { memory in
            var out = ByteWriter(memory)
            if let statusLine {
                statusLine.withUnsafeBytes { out.write($0) }
            } else {
                out.write("HTTP/1.1 200 OK\r\n")
            }
            out.write("Content-Type: ")
            out.write(contentType)
            out.write("\r\n")
            date.withUnsafeBytes { out.write($0) }
            out.write("Content-Length: ")
            out.writeDecimal(body.count)
            out.write("\r\n")
            out.write(connection.line)
            out.write("\r\n")
            out.write(UnsafeRawBufferPointer(rebasing: body[..<sentBody]))
            return out.count
        }
    }

    /// Writes one of the server's own error responses, as plain text.
    static func write(
        _ error: ServerErrorResponse, sendsBody: Bool, connection: ConnectionHeader, date: [UInt8],
        into buffer: inout ByteBuffer
    ) {
        let contentType: StaticString = "text/plain; charset=UTF-8"
        let body = error.message
        write(
            status: error.status,
            contentType: UnsafeRawBufferPointer(start: contentType.utf8Start, count: contentType.utf8CodeUnitCount),
            body: UnsafeRawBufferPointer(start: body.utf8Start, count: body.utf8CodeUnitCount), sendsBody: sendsBody,
            connection: connection, date: date, into: &buffer)
    }
}

/// The responses the server gives without asking the app: the request could
/// not be read or is not served (400, 408, 414, 431, 501, 505; a body over the limit goes to the app as
/// 413), or the app's answer could not be sent (500).
enum ServerErrorResponse: Equatable {
    case badRequest
    case requestTimeout
    case uriTooLong
    case headerFieldsTooLarge
    case internalServerError
    /// A method or transfer coding the server does not implement.
    case notImplemented
    /// An HTTP version other than 1.0 and 1.1.
    case httpVersionNotSupported

    var status: Int {
        switch self {
        case .badRequest: return 400
        case .requestTimeout: return 408
        case .uriTooLong: return 414
        case .headerFieldsTooLarge: return 431
        case .internalServerError: return 500
        case .notImplemented: return 501
        case .httpVersionNotSupported: return 505
        }
    }

    /// The plain-text body.
    var message: StaticString {
        switch self {
        case .badRequest: return "Bad request"
        case .requestTimeout: return "Request timeout"
        case .uriTooLong: return "URI too long"
        case .headerFieldsTooLarge: return "Request header fields too large"
        case .internalServerError: return "Internal server error"
        case .notImplemented: return "Not implemented"
        case .httpVersionNotSupported: return "HTTP version not supported"
        }
    }
}

/// The Connection header a response head ends with.
enum ConnectionHeader: Equatable {
    /// No header: HTTP/1.1 keeps the connection by default.
    case none
    case close
    /// Said only to HTTP/1.0 clients, whose default is to close.
    case keepAlive

    init(keepAlive: Bool, isHTTP10: Bool) {
        if !keepAlive {
            self = .close
        } else {
            self = isHTTP10 ? .keepAlive : .none
        }
    }

    /// The header line, empty for `none`.
    var line: StaticString {
        switch self {
        case .none: return ""
        case .close: return "Connection: close\r\n"
        case .keepAlive: return "Connection: keep-alive\r\n"
        }
    }
}

/// `HTTP/1.1 <code> <reason>\r\n`.
enum StatusLine {
    /// The line with the standard reason phrase (`Unknown` for a code HTTP
    /// does not name).
    static func standard(_ status: Int) -> [UInt8] {
        if status >= 0, status < standardLines.count, let line = standardLines[status] { return line }
        return Array("HTTP/1.1 \(status) Unknown\r\n".utf8)
    }

    /// By status code, for the codes HTTP names: made once, shared.
    private static let standardLines: [[UInt8]?] = (0...599).map { code in
        let phrase = code >= 100 ? HTTPResponseStatus(statusCode: code).reasonPhrase : ""
        return phrase.isEmpty ? nil : Array("HTTP/1.1 \(code) \(phrase)\r\n".utf8)
    }
}

/// Copies byte runs into memory the caller reserved (enough for all of
/// them): a response head in one ByteBuffer write instead of one per part.
struct ByteWriter {
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
