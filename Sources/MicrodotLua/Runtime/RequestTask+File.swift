import CLua
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension RequestTask {
    /// A file sent through buffers (under TLS, where `sendfile` cannot
    /// work): read part by part (`pread`); a file that shrinks while it is
    /// sent is seen at once (a short read). Grown, it is sent as it was
    /// when opened (its Content-Length). The descriptor belongs to `file`
    /// (the worker's open-file cache), which closes it.
    struct FileBody {
        let file: OpenFile
        var offset: Int
        let end: Int
        /// `--gzip`: each part compressed (RequestTask+Gzip.swift).
        var gzip: GzipStream? = nil
    }

    /// The most read from a file per write: the client must take this much
    /// before the next part is read, so a file costs this much memory.
    static let filePart = 256 * 1024

    /// Sends `file` from its offset (after `head`, when given) while the
    /// connection takes it; waits for writability otherwise. Finishes the
    /// request when the file is sent or cannot be.
    func sendFile(_ file: FileBody, after head: ByteBuffer? = nil) {
        if let gzip = file.gzip {
            sendCompressedFile(file, gzip, after: head)
            return
        }
        var file = file
        var pending = head
        while true {
            let length = min(Self.filePart, file.end - file.offset)
            var part = pending ?? sink.allocator.buffer(capacity: length)
            pending = nil
            var count = 0
            if length > 0 {
                count =
                    (try? file.file.handle.withUnsafeFileDescriptor { descriptor in
                        part.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { memory in
                            max(0, pread(descriptor, memory.baseAddress, length, off_t(file.offset)))
                        }
                    }) ?? 0
            }
            if count > 0 || part.readableBytes > 0 {
                sink.write(.byteBuffer(part), flush: true, completion: nil)
            }
            file.offset += count
            guard count == length else {
                fail("the file changed while it was sent: \(file.end - file.offset) bytes short; connection closed")
                return
            }
            if file.offset >= file.end {
                state = .running
                finish()
                return
            }
            if cancelled {
                finish()
                return
            }
            if !sink.isWritable {
                state = .sendingFile(file)
                return
            }
        }
    }
}
