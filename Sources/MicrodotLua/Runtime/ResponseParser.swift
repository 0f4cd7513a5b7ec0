/// Where the bytes of an HTTP/1.1 response come from: what a
/// `CollectingSink` kept (`CollectedBytes`), or a socket (the tests' raw
/// client). The parser pulls lines and counted bytes; a source that has no
/// more gives nil or what is left.
protocol ResponseByteSource {
    /// The next line without its CRLF; nil when the bytes end first.
    mutating func readLine() throws -> [UInt8]?
    /// `count` bytes, or fewer when the bytes end first.
    mutating func read(count: Int) throws -> [UInt8]
    /// Everything that is left.
    mutating func readToEnd() throws -> [UInt8]
}

/// A response as read back: what both test clients give their users.
package struct ParsedResponse: Sendable {
    /// The status line's protocol, e.g. "HTTP/1.1".
    package var version = ""
    /// The status code, e.g. 200.
    package var status = 0
    /// The status line's reason phrase, e.g. "OK".
    package var reason = ""
    /// In the order written, names as sent.
    package var headers: [(name: String, value: String)] = []
    /// De-chunked; empty for HEAD, 1xx, 204 and 304.
    package var body: [UInt8] = []
    /// The chunks of a chunked body as they were framed; nil when not chunked.
    package var chunks: [[UInt8]]?

    /// The first value of `name`, whatever its case.
    package func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Reads an HTTP/1.1 response (RFC 9112): status line, header fields, and a
/// body framed by chunked coding, Content-Length, or the end of the bytes
/// (section 6.3). Both test clients and the tests' socket client use it.
enum ResponseParser {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads one response from `source`. `cutShort`: the server stopped the
    /// response midway (a stream that failed), so a chunked body ends where
    /// the bytes do instead of being an error.
    static func read<Source: ResponseByteSource>(
        from source: inout Source, method: String, cutShort: Bool = false
    ) throws -> ParsedResponse {
        var response = ParsedResponse()
        let statusLine = try line(from: &source, what: "status line")
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw Malformed(description: "bad status line: \(statusLine)")
        }
        response.version = String(parts[0])
        response.status = status
        response.reason = parts.count > 2 ? String(parts[2]) : ""
        while true {
            let field = try line(from: &source, what: "header field")
            if field.isEmpty { break }
            guard let colon = field.firstIndex(of: ":") else {
                throw Malformed(description: "bad header line: \(field)")
            }
            let value = String(trimmingBlanks(field[field.index(after: colon)...]))
            response.headers.append((String(field[..<colon]), value))
        }
        if method == "HEAD" || status == 204 || status == 304 || (100...199).contains(status) { return response }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            response.chunks = try chunks(from: &source, cutShort: cutShort)
            response.body = response.chunks!.flatMap { $0 }
        } else if let length = response.header("content-length").flatMap(Int.init) {
            response.body = try source.read(count: length)
            guard response.body.count == length || cutShort else {
                throw Malformed(description: "body ended after \(response.body.count) of \(length) bytes")
            }
        } else {
            response.body = try source.readToEnd()
        }
        return response
    }

    /// Reads a response out of `bytes`, all of it there.
    static func parse(_ bytes: [UInt8], method: String, cutShort: Bool = false) throws -> ParsedResponse {
        var source = CollectedBytes(bytes)
        return try read(from: &source, method: method, cutShort: cutShort)
    }

    private static func chunks<Source: ResponseByteSource>(
        from source: inout Source, cutShort: Bool
    ) throws -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        while true {
            guard let sizeLine = try source.readLine() else {
                if cutShort { return chunks }
                throw Malformed(description: "the bytes ended inside a chunked body")
            }
            let sizeText = String(decoding: sizeLine, as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(trimmingBlanks(sizeText), radix: 16), size >= 0 else {
                throw Malformed(description: "bad chunk size: \(String(decoding: sizeLine, as: UTF8.self))")
            }
            if size == 0 {
                while let trailer = try source.readLine(), !trailer.isEmpty {}
                return chunks
            }
            let chunk = try source.read(count: size)
            guard chunk.count == size else {
                if cutShort { return chunks + [chunk] }
                throw Malformed(description: "truncated chunk: \(chunk.count) of \(size) bytes")
            }
            chunks.append(chunk)
            guard try source.readLine() == [] else { throw Malformed(description: "chunk not followed by CRLF") }
        }
    }

    /// Without the spaces and tabs around it (optional white space, RFC 9110 5.6.3).
    private static func trimmingBlanks(_ text: Substring) -> Substring {
        let isBlank = { (character: Character) in character == " " || character == "\t" }
        var text = text.drop(while: isBlank)
        while let last = text.last, isBlank(last) { text = text.dropLast() }
        return text
    }

    private static func line<Source: ResponseByteSource>(from source: inout Source, what: String) throws -> String {
        guard let line = try source.readLine() else {
            throw Malformed(description: "the bytes ended before the \(what)")
        }
        return String(decoding: line, as: UTF8.self)
    }
}

/// A response's bytes already in memory.
struct CollectedBytes: ResponseByteSource {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func readLine() -> [UInt8]? {
        var index = position
        while index + 1 < bytes.count {
            if bytes[index] == 13 && bytes[index + 1] == 10 {
                let line = Array(bytes[position..<index])
                position = index + 2
                return line
            }
            index += 1
        }
        return nil
    }

    mutating func read(count: Int) -> [UInt8] {
        let end = min(bytes.count, position + count)
        defer { position = end }
        return Array(bytes[position..<end])
    }

    mutating func readToEnd() -> [UInt8] {
        read(count: bytes.count - position)
    }
}
