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
            let count = readPart(of: file, length: length, into: &part)
            if count > 0 || part.readableBytes > 0 {
                sink.write(.byteBuffer(part), flush: true, completion: nil)
            }
            file.offset += count
            guard count == length else {
                fail("the file changed while it was sent: \(file.end - file.offset) bytes short; connection closed")
                return
            }
            guard continuesSending(file) else { return }
        }
    }

    /// Reads up to `length` bytes of `file` at its offset into `part`:
    /// how many were read (0 when the read fails).
    func readPart(of file: FileBody, length: Int, into part: inout ByteBuffer) -> Int {
        guard length > 0 else { return 0 }
        return
            (try? file.file.handle.withUnsafeFileDescriptor { descriptor in
                part.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { memory in
                    max(0, pread(descriptor, memory.baseAddress, length, off_t(file.offset)))
                }
            }) ?? 0
    }

    /// After a part went out: whether the next goes now. Finishes the
    /// request when `file` is sent or the request was cancelled; waits for
    /// writability (`writable()` goes on) when the channel is full.
    func continuesSending(_ file: FileBody) -> Bool {
        if file.offset >= file.end {
            state = .running
            finish()
            return false
        }
        if cancelled {
            finish()
            return false
        }
        if !sink.isWritable {
            state = .sendingFile(file)
            return false
        }
        return true
    }
}
