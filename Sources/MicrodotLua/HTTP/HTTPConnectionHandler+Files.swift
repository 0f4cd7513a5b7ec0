import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file region handed to the channel and not yet written.
struct FileInFlight {
    let file: OpenFile
    /// Where the region ends in the file.
    let end: Int
    let number: Int
}

extension HTTPConnectionHandler {
    /// Hands `region` to the channel, which sends it with `sendfile` (no
    /// copy through user space); `file` stays open until it is written.
    func writeFile(_ file: OpenFile, _ region: FileRegion) {
        fileWrites &+= 1
        let number = fileWrites
        filesInFlight.append(FileInFlight(file: file, end: region.endIndex, number: number))
        // A strong reference (the write ends, or fails at close, so the
        // handler is let go): a weak one costs a side table per response.
        write(.fileRegion(region), flush: true) { _ in
            self.filesInFlight.removeAll { $0.number == number }
        }
    }

    /// Whether a file being sent has shrunk below what its response
    /// announced: `sendfile` would then send nothing, again and again, and
    /// the client would wait for bytes that cannot come. Logged; the caller
    /// closes the connection (the client sees a body cut short).
    func fileShrank() -> Bool {
        for sending in filesInFlight {
            let size =
                (try? sending.file.handle.withUnsafeFileDescriptor { descriptor -> Int in
                    var info = stat()
                    return fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
                }) ?? 0
            if size < sending.end {
                loop.worker.log(
                    .error,
                    "the file changed while it was sent: \(sending.end - size) bytes short; connection closed")
                filesInFlight.removeAll()
                return true
            }
        }
        return false
    }
}
