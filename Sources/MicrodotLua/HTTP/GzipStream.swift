import CompressNIO
import NIOCore

/// One response body being gzip-compressed (compress-nio over the system's
/// zlib, level `GzipRules.level`): a complete body at once, or a stream
/// piece by piece, each piece framed as an HTTP/1.1 chunk when `chunked`.
final class GzipStream {
    private let compressor: ZlibCompressor
    /// Whether pieces go out as chunks (else the body ends at close).
    let chunked: Bool
    private var finished = false

    init(chunked: Bool) throws {
        compressor = try ZlibCompressor(
            algorithm: .gzip, configuration: ZlibConfiguration(compressionLevel: GzipRules.level))
        self.chunked = chunked
    }

    /// The whole gzip member for `body`, for a Content-Length.
    static func compress(_ body: UnsafeRawBufferPointer) throws -> ByteBuffer {
        let stream = try GzipStream(chunked: false)
        var output = ByteBuffer()
        try stream.write(body, finish: true, into: &output)
        return output
    }

    /// Compresses `bytes` onto `output`: with `finish`, the rest of the
    /// member and its trailer; else a sync flush, so what was given so far
    /// can be decompressed at once (server-sent events and the like arrive
    /// as they are sent). An empty piece without `finish` writes nothing.
    /// A chunked stream's pieces are framed; the last chunk is the caller's.
    func write(_ bytes: UnsafeRawBufferPointer, finish: Bool, into output: inout ByteBuffer) throws {
        guard !finished else { return }
        guard finish || !bytes.isEmpty else { return }
        var input = ByteBuffer(bytes: bytes)
        var compressed = ByteBuffer()
        compressed.reserveCapacity(compressor.maxSize(from: input))
        // zlib wants to be called again while it filled the room it had
        // (more output pending); a buffer error means it could do nothing
        // more with what it had. Each round at least doubles the room.
        for _ in 0..<64 {
            if compressed.writableBytes < 64 {
                compressed.reserveCapacity(minimumWritableBytes: max(1024, compressed.readableBytes))
            }
            do {
                try compressor.deflate(from: &input, to: &compressed, flush: finish ? .finish : .sync)
                if finish || (input.readableBytes == 0 && compressed.writableBytes > 0) { break }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                if !finish, input.readableBytes == 0, compressed.writableBytes > 0 { break }
            }
        }
        finished = finish
        guard compressed.readableBytes > 0 else { return }
        if chunked {
            output.writeString(String(compressed.readableBytes, radix: 16))
            output.writeStaticString("\r\n")
            output.writeImmutableBuffer(compressed)
            output.writeStaticString("\r\n")
        } else {
            output.writeImmutableBuffer(compressed)
        }
    }
}
