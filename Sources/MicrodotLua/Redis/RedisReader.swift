import CRedis
import NIOCore

/// One reply hiredis parsed; freed with the last reference.
final class RedisReply: @unchecked Sendable {
    // Sendable: never changed after parsing; read on one thread at a time.
    let pointer: UnsafeMutableRawPointer

    init(_ pointer: UnsafeMutableRawPointer) {
        self.pointer = pointer
    }

    deinit {
        mdl_redis_reply_free(pointer)
    }

    var isError: Bool { mdl_redis_reply_is_error(pointer) != 0 }

    /// The bytes of a string, status or error reply, as text.
    var text: String? { Self.text(of: pointer) }

    static func text(of reply: UnsafeRawPointer?) -> String? {
        guard let reply else { return nil }
        var length = 0
        guard let bytes = mdl_redis_reply_bytes(reply, &length) else { return nil }
        return bytes.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// A pub/sub push `[kind, channel, payload]` of the given kind.
    func isPush(_ kind: String) -> Bool { mdl_redis_reply_is_push(pointer, kind) != 0 }

    /// Element `index` of an array reply.
    func element(_ index: Int) -> UnsafeRawPointer? { mdl_redis_reply_element(pointer, index) }
}

/// hiredis's RESP reader (`redisReaderCreate/Feed/GetReply`): bytes in from
/// the socket, replies out.
final class RedisReader {
    private let reader: OpaquePointer

    struct ProtocolError: Error, CustomStringConvertible {
        let description: String
    }

    init() {
        guard let reader = mdl_redis_reader_new() else { fatalError("out of memory creating a Redis reader") }
        self.reader = reader
    }

    deinit {
        mdl_redis_reader_free(reader)
    }

    func feed(_ buffer: ByteBuffer) throws {
        let status = buffer.withUnsafeReadableBytes { bytes in
            mdl_redis_reader_feed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        if status != 0 { throw ProtocolError(description: String(cString: mdl_redis_reader_error(reader))) }
    }

    /// The next complete reply, or nil until more bytes come.
    func next() throws -> RedisReply? {
        var reply: UnsafeMutableRawPointer?
        guard mdl_redis_reader_next(reader, &reply) == 0 else {
            throw ProtocolError(description: String(cString: mdl_redis_reader_error(reader)))
        }
        return reply.map(RedisReply.init)
    }
}

extension RedisReply {
    /// The bytes of a string reply element.
    static func bytes(of reply: UnsafeRawPointer?) -> [UInt8] {
        guard let reply else { return [] }
        var length = 0
        guard let bytes = mdl_redis_reply_bytes(reply, &length) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: length))
    }
}
