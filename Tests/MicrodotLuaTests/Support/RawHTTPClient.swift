import XCTest

@testable import MicrodotLua

#if canImport(Glibc)
    import Glibc
#endif

/// A response as it came off the wire, read by the library's own parser.
typealias RawResponse = ParsedResponse

extension ParsedResponse {
    /// Every value of `name`, whatever its case.
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

    /// Sends what the server takes within `seconds` in all; returns how
    /// many bytes went.
    func send(_ bytes: [UInt8], within seconds: Double) -> Int {
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        defer {
            var none = timeval(tv_sec: 0, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        }
        let deadline = Date().addingTimeInterval(seconds)
        var offset = 0
        while offset < bytes.count && Date() < deadline {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, min($0.count, 65536), Int32(MSG_NOSIGNAL))
            }
            if sent > 0 { offset += sent }
        }
        return offset
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

    /// What is buffered, else what one read brings (empty at the end of
    /// the stream): for streams read as they come.
    func readSome() throws -> [UInt8] {
        if buffer.isEmpty, try !fill() { return [] }
        defer { buffer = [] }
        return buffer
    }

    /// True when the server closed the connection (reads nothing more).
    func isClosed() throws -> Bool {
        if !buffer.isEmpty { return false }
        return try !fill()
    }

    func readResponse(method: String = "GET") throws -> RawResponse {
        var source = SocketSource(client: self)
        return try ResponseParser.read(from: &source, method: method)
    }

    /// The socket as the parser's byte source; the end of the stream ends
    /// the bytes.
    private struct SocketSource: ResponseByteSource {
        let client: RawHTTPClient

        func readLine() throws -> [UInt8]? {
            while true {
                if let index = client.buffer.firstIndex(of: 10), index > 0, client.buffer[index - 1] == 13 {
                    let line = Array(client.buffer[0..<(index - 1)])
                    client.buffer.removeFirst(index + 1)
                    return line
                }
                guard try client.fill() else { return nil }
            }
        }

        func read(count: Int) throws -> [UInt8] {
            while client.buffer.count < count, try client.fill() {}
            let bytes = Array(client.buffer.prefix(count))
            client.buffer.removeFirst(bytes.count)
            return bytes
        }

        func readToEnd() throws -> [UInt8] {
            while try client.fill() {}
            defer { client.buffer = [] }
            return client.buffer
        }
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
