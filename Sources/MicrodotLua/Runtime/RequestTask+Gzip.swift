import CLua
import NIOCore

/// `--gzip` for bodies that follow the head: a stream's chunks and a
/// file's parts, compressed as they go (`GzipStream`).
extension RequestTask {
    /// A generator's chunk, compressed and sync-flushed: what the client
    /// has received decompresses to everything sent so far.
    func writeCompressedChunk(_ gzip: GzipStream, at index: Int32) {
        var buffer = sink.allocator.buffer(capacity: Int(lua_rawlen(thread, index)) + 64)
        do {
            try LuaStack(thread).withBytes(at: index) { try gzip.write($0, finish: false, into: &buffer) }
        } catch {
            fail("gzip: \(error)")
            return
        }
        guard buffer.readableBytes > 0 else { return }
        sink.write(.byteBuffer(buffer), flush: false, completion: nil)
        unflushedBytes += buffer.readableBytes
        if unflushedBytes >= 64 * 1024 { flushStream() }
    }

    /// The end of the gzip member, then the last chunk (when chunked).
    func endCompressedStream(_ gzip: GzipStream) {
        var buffer = sink.allocator.buffer(capacity: 64)
        try? gzip.write(UnsafeRawBufferPointer(start: nil, count: 0), finish: true, into: &buffer)
        if gzip.chunked { buffer.writeStaticString("0\r\n\r\n") }
        sink.write(.byteBuffer(buffer), flush: true, completion: nil)
        unflushedBytes = 0
    }

    /// `sendFile` for a compressed file: each part read (`pread`) and
    /// compressed (one gzip member for the whole file), then the member's
    /// end and the last chunk; waits for writability between parts.
    func sendCompressedFile(_ file: FileBody, _ gzip: GzipStream, after head: ByteBuffer?) {
        var file = file
        if let head { sink.write(.byteBuffer(head), flush: false, completion: nil) }
        var part = sink.allocator.buffer(capacity: 0)
        while true {
            let length = min(Self.filePart, file.end - file.offset)
            part.clear(minimumCapacity: length)
            let count = readPart(of: file, length: length, into: &part)
            guard count == length else {
                fail("the file changed while it was sent: \(file.end - file.offset) bytes short; connection closed")
                return
            }
            file.offset += count
            let last = file.offset >= file.end
            var output = sink.allocator.buffer(capacity: count / 2 + 64)
            do {
                try part.withUnsafeReadableBytes { try gzip.write($0, finish: last, into: &output) }
            } catch {
                fail("gzip: \(error)")
                return
            }
            if last, gzip.chunked { output.writeStaticString("0\r\n\r\n") }
            sink.write(.byteBuffer(output), flush: true, completion: nil)
            guard continuesSending(file) else { return }
        }
    }
}
