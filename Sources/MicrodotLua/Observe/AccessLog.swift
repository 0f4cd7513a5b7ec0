import Dispatch
import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// The access log could not be opened (`--access-log`).
public struct AccessLogError: Error, CustomStringConvertible, Sendable {
    /// The path given.
    public let path: String
    /// The system's reason (strerror).
    public let reason: String
    /// One line naming the file and why it cannot be written.
    public var description: String { "cannot open the access log \(path): \(reason)" }

    /// Why `path` could not be appended to, or nil when it can (`-` always
    /// can): checked without creating the file (`microdot-lua check`).
    public static func problem(path: String) -> AccessLogError? {
        if path == "-" { return nil }
        var info = stat()
        if stat(path, &info) == 0 {
            if info.st_mode & 0o170000 == 0o040000 { return AccessLogError(path: path, reason: "it is a directory") }
            if access(path, W_OK) == 0 { return nil }
            return AccessLogError(path: path, reason: String(cString: strerror(errno)))
        }
        guard errno == ENOENT else { return AccessLogError(path: path, reason: String(cString: strerror(errno))) }
        let folder = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        if access(folder, W_OK | X_OK) == 0 { return nil }
        return AccessLogError(path: path, reason: "its folder \(folder): \(String(cString: strerror(errno)))")
    }
}

/// The access log's file (`--access-log PATH|-`): event loops add lines to
/// a buffer in memory; a serial dispatch queue writes it out each second,
/// sooner once it holds `flushSize` bytes, and at `close()`, so a slow disk
/// never stalls a loop. The file is opened with `O_APPEND` (lines of several
/// processes interleave whole); SIGUSR1 reopens it, for logrotate. Past
/// `maxPending` unwritten bytes lines are dropped, and counted in a warning.
///
/// `@unchecked Sendable`: the dispatch sources are thread-safe (Dispatch
/// does not say so to Swift); everything else is locked or immutable.
final class AccessLog: @unchecked Sendable {
    /// The path, or `-` for standard output.
    let path: String
    static let flushSize = 64 * 1024
    static let maxPending = 8 * 1024 * 1024

    private struct Pending {
        var bytes: [UInt8] = []
        var dropped = 0
        var flushScheduled = false
        var closed = false
    }
    private let pending = NIOLockedValueBox(Pending())
    /// The descriptor; changed only on `queue`.
    private let descriptor: NIOLockedValueBox<Int32>
    private let queue = DispatchQueue(label: "microdot-lua.access-log")
    private let logger: Logger
    private let timer: any DispatchSourceTimer
    private let reopenSignal: (any DispatchSourceSignal)?

    /// Opens `path` (creating it, mode 0644) or takes standard output for `-`.
    init(path: String, logger: Logger) throws(AccessLogError) {
        self.path = path
        self.logger = logger
        descriptor = NIOLockedValueBox(try Self.open(path))
        timer = DispatchSource.makeTimerSource(queue: queue)
        if path == "-" {
            reopenSignal = nil
        } else {
            // Dispatch takes the signal once its default action (exit) is off.
            signal(SIGUSR1, SIG_IGN)
            reopenSignal = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: queue)
        }
        timer.schedule(deadline: .now() + 1, repeating: 1.0)
        timer.setEventHandler { [weak self] in self?.writeOut() }
        timer.activate()
        reopenSignal?.setEventHandler { [weak self] in self?.reopen() }
        reopenSignal?.activate()
    }

    private static func open(_ path: String) throws(AccessLogError) -> Int32 {
        if path == "-" { return STDOUT_FILENO }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AccessLogError(path: path, reason: String(cString: strerror(errno))) }
        return fd
    }

    /// Adds a line (with its newline); called on the event loops.
    func append(_ line: [UInt8]) {
        let schedule = pending.withLockedValue { pending -> Bool in
            guard !pending.closed else { return false }
            if pending.bytes.count + line.count > Self.maxPending {
                pending.dropped += 1
                return false
            }
            pending.bytes += line
            guard pending.bytes.count >= Self.flushSize, !pending.flushScheduled else { return false }
            pending.flushScheduled = true
            return true
        }
        if schedule { queue.async { [self] in writeOut() } }
    }

    /// Writes what is buffered; on `queue`.
    private func writeOut() {
        let (bytes, dropped) = pending.withLockedValue { pending -> ([UInt8], Int) in
            defer {
                pending.bytes = []
                pending.dropped = 0
                pending.flushScheduled = false
            }
            return (pending.bytes, pending.dropped)
        }
        if dropped > 0 {
            logger.warning("access log: \(dropped) lines dropped, the file took less than they came")
        }
        guard !bytes.isEmpty else { return }
        let fd = descriptor.withLockedValue { $0 }
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    logger.error("access log \(path): write failed: \(String(cString: strerror(errno)))")
                    return
                }
            }
        }
    }

    /// SIGUSR1: what is buffered goes to the old file, then the path is
    /// opened again (logrotate renamed the old one away).
    private func reopen() {
        writeOut()
        do {
            let fd = try Self.open(path)
            let old = descriptor.withLockedValue { descriptor in
                defer { descriptor = fd }
                return descriptor
            }
            Glibc.close(old)
        } catch {
            logger.error("access log: \(error); still writing to the previous file")
        }
    }

    /// Writes what is left and stops; lines appended later are dropped.
    func close() {
        let wasOpen = pending.withLockedValue { pending -> Bool in
            defer { pending.closed = true }
            return !pending.closed
        }
        guard wasOpen else { return }
        queue.sync {
            timer.cancel()
            reopenSignal?.cancel()
            writeOut()
            let fd = descriptor.withLockedValue { $0 }
            if fd != STDOUT_FILENO { Glibc.close(fd) }
        }
    }
}
