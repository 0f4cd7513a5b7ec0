import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A response as it came off the wire.
struct RawResponse {
    var version = ""
    var status = 0
    var reason = ""
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    /// The chunks of a chunked body, as sent.
    var chunks: [[UInt8]]? = nil

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    func headers(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.x client over a plain socket to 127.0.0.1, so tests can
/// send exact bytes (pipelined, HTTP/1.0, malformed) and read exact replies.
final class RawHTTPClient {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var closedByPeer = false

    /// `receiveBuffer` sets SO_RCVBUF (a client that reads slowly holds
    /// little in its kernel buffer).
    init(port: Int, timeoutSeconds: Int = 10, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw ClientError("connect failed: \(errno)")
        }
    }

    private var isOpen = true

    /// Goes away without a word, as a client that disconnects.
    func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(fd)
    }

    deinit { close() }

    struct ClientError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw ClientError("send failed: \(errno)") }
            offset += sent
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count == 0 {
            closedByPeer = true
            return false
        }
        guard count > 0 else { throw ClientError("recv failed or timed out: \(errno)") }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 10), index > 0, buffer[index - 1] == 13 {
                let line = String(decoding: buffer[0..<(index - 1)], as: UTF8.self)
                buffer.removeFirst(index + 1)
                return line
            }
            guard try fill() else { throw ClientError("connection closed in the middle of a line") }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw ClientError("connection closed with \(buffer.count) of \(count) bytes") }
        }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads and drops up to `limit` bytes (what is buffered first); 0 at
    /// the end of the stream.
    func discard(upTo limit: Int) throws -> Int {
        if !buffer.isEmpty {
            let count = min(limit, buffer.count)
            buffer.removeFirst(count)
            return count
        }
        var chunk = [UInt8](repeating: 0, count: limit)
        let count = recv(fd, &chunk, limit, 0)
        if count == 0 { closedByPeer = true }
        guard count >= 0 else { throw ClientError("recv failed or timed out: \(errno)") }
        return count
    }

    /// True when the server closed the connection (reads nothing more).
    func isClosed() throws -> Bool {
        if !buffer.isEmpty { return false }
        return try !fill()
    }

    func readResponse(method: String = "GET") throws -> RawResponse {
        var response = RawResponse()
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw ClientError("bad status line: \(statusLine)") }
        response.version = String(parts[0])
        response.status = status
        response.reason = parts.count > 2 ? String(parts[2]) : ""
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw ClientError("bad header line: \(line)") }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            response.headers.append((String(line[..<colon]), value))
        }
        if method == "HEAD" || status == 204 || status == 304 || (100...199).contains(status) { return response }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            var chunks: [[UInt8]] = []
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw ClientError("bad chunk size: \(sizeLine)")
                }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                let chunk = try readExactly(size)
                chunks.append(chunk)
                response.body += chunk
                guard try readLine().isEmpty else { throw ClientError("chunk not followed by CRLF") }
            }
            response.chunks = chunks
        } else if let length = response.header("content-length").flatMap(Int.init) {
            response.body = try readExactly(length)
        } else {
            while try fill() {}
            response.body = buffer
            buffer = []
        }
        return response
    }

    /// One request on this connection, HTTP/1.1 unless said.
    func request(
        _ target: String, method: String = "GET", headers: [String: String] = [:],
        body: [UInt8] = [], version: String = "HTTP/1.1"
    ) throws -> RawResponse {
        var text = "\(method) \(target) \(version)\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        try send(Array(text.utf8) + body)
        return try readResponse(method: method)
    }
}
