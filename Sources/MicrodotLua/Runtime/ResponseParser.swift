/// Reads an HTTP/1.1 response: status line, headers, and a body framed by
/// Content-Length, chunked encoding, or the end of the bytes. Both test
/// clients read what a `CollectingSink` collected with it.
enum ResponseParser {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// `cutShort`: the server stopped the response midway (a stream that
    /// failed), so a chunked body ends where the bytes do.
    static func parse(_ bytes: [UInt8], method: String, cutShort: Bool = false) throws -> TestResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
            throw Malformed(description: "no complete response head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<headEnd], as: UTF8.self)
            .split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusParts = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Malformed(description: "bad status line \(lines[0])")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw Malformed(description: "bad header line \(line)") }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
        }
        let rest = Array(bytes[(headEnd + 4)...])
        let response = { (body: [UInt8]) in
            TestResponse(
                status: status, reason: statusParts.count > 2 ? String(statusParts[2]) : "",
                headers: headers, body: body)
        }
        let isChunked = headers.contains { $0.name.lowercased() == "transfer-encoding" && $0.value == "chunked" }
        if method == "HEAD" || !isChunked { return response(rest) }
        return response(try dechunk(rest, cutShort: cutShort))
    }

    private static func dechunk(_ bytes: [UInt8], cutShort: Bool) throws -> [UInt8] {
        var body: [UInt8] = []
        var position = 0
        while true {
            if cutShort && position >= bytes.count { return body }
            guard let lineEnd = bytes[position...].firstIndex(of: 13),
                let size = Int(
                    String(decoding: bytes[position..<lineEnd], as: UTF8.self), radix: 16)
            else {
                throw Malformed(description: "bad chunk size")
            }
            position = lineEnd + 2
            if size == 0 { return body }
            guard position + size <= bytes.count else { throw Malformed(description: "truncated chunk") }
            body.append(contentsOf: bytes[position..<(position + size)])
            position += size + 2
        }
    }
}
