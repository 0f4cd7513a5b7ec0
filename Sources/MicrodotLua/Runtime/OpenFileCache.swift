import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A regular file opened to be sent, with what its validators are made of
/// (RFC 9110 section 8.8) as it was when opened. The descriptor closes when
/// the last holder lets go: the worker's cache, or a response being written.
final class OpenFile {
    let handle: NIOFileHandle
    /// Bytes, as `fstat` gave them when the file was opened.
    let size: Int
    /// The last modification, whole seconds since the epoch (`Last-Modified`).
    let modified: Int
    fileprivate let identity: FileIdentity
    fileprivate let path: [UInt8]
    /// When a `stat` last found the path unchanged (monotonic nanoseconds).
    fileprivate var checked: UInt64

    /// nginx's strong entity-tag, `"<mtime hex>-<size hex>"` (quotes included).
    private(set) lazy var etag: [UInt8] = Array("\"\(String(modified, radix: 16))-\(String(size, radix: 16))\"".utf8)
    /// `modified` as an IMF-fixdate.
    private(set) lazy var lastModified: [UInt8] = Array(HTTPDate.format(epochSeconds: modified).utf8)

    fileprivate init(descriptor: CInt, info: stat, path: [UInt8], now: UInt64) {
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
        size = Int(info.st_size)
        modified = Int(info.st_mtim.tv_sec)
        identity = FileIdentity(info)
        self.path = path
        checked = now
    }

    deinit {
        try? handle.close()
    }
}

/// What tells a file from its next version at the same path: the inode, the
/// size, and the change times (`ctime` also moves with `chmod`).
private struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: timespec
    let changed: timespec

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = info.st_mtim
        changed = info.st_ctim
    }

    static func == (a: FileIdentity, b: FileIdentity) -> Bool {
        a.device == b.device && a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec
            && a.modified.tv_nsec == b.modified.tv_nsec && a.changed.tv_sec == b.changed.tv_sec
            && a.changed.tv_nsec == b.changed.tv_nsec
    }
}

/// Why a path cannot be sent.
enum OpenFileFailure: Error {
    /// A folder.
    case directory
    /// A FIFO, a socket or a device: opening or reading it could block the loop.
    case notRegular
    /// `stat` or `open` failed with this `strerror` text.
    case system(String)

    /// As `io.open` words it ("No such file or directory").
    var reason: String {
        switch self {
        case .directory: return "Is a directory"
        case .notRegular: return "Not a regular file"
        case .system(let text): return text
        }
    }
}

/// The files a worker's `send_file` opened, kept open for the next request
/// for the same path, as nginx's `open_file_cache`: a request costs one
/// `stat` (the file as it is at the call: a changed, replaced or removed
/// file is seen at once) instead of `stat`, `open`, `fstat` and `close`.
/// Bounded in count; an entry unused for `idleLimit` is closed.
final class OpenFileCache {
    static let capacity = 128
    static let idleLimit: UInt64 = 10_000_000_000

    private var entries: [Int: OpenFile] = [:]
    private var nextSweep: UInt64 = 0

    /// The file at `path` (bytes, with Lua's NUL after them), as it is now:
    /// the cached descriptor when the path still names the same, unchanged
    /// file, else a new one.
    func open(_ path: UnsafeRawBufferPointer) -> Result<OpenFile, OpenFileFailure> {
        guard let base = path.baseAddress, !path.isEmpty, memchr(base, 0, path.count) == nil else {
            return .failure(.system(String(cString: strerror(path.isEmpty ? ENOENT : EINVAL))))
        }
        let name = base.assumingMemoryBound(to: CChar.self)
        var info = stat()
        guard stat(name, &info) == 0 else { return .failure(.system(String(cString: strerror(errno)))) }
        if let problem = Self.kindProblem(info) { return .failure(problem) }
        let now = NIODeadline.now().uptimeNanoseconds
        let key = Self.hash(path)
        if let entry = entries[key], Self.same(entry.path, path), entry.identity == FileIdentity(info) {
            entry.checked = now
            return .success(entry)
        }
        // O_NONBLOCK: should the path have become a FIFO since the stat.
        let descriptor = openForReading(name)
        guard descriptor >= 0 else { return .failure(.system(String(cString: strerror(errno)))) }
        guard fstat(descriptor, &info) == 0, Self.kindProblem(info) == nil else {
            close(descriptor)
            return .failure(.notRegular)
        }
        let entry = OpenFile(descriptor: descriptor, info: info, path: Array(path), now: now)
        if entries[key] == nil, entries.count >= Self.capacity { evict(now: now) }
        entries[key] = entry
        if now >= nextSweep { sweep(now: now) }
        return .success(entry)
    }

    /// The entry for `path` when a `stat` found it current less than a
    /// second ago (what `open` gave send_file in this request), without a
    /// system call: for the response encoder.
    func recent(_ path: UnsafeRawBufferPointer) -> OpenFile? {
        guard let entry = entries[Self.hash(path)], Self.same(entry.path, path),
            NIODeadline.now().uptimeNanoseconds - entry.checked < 1_000_000_000
        else { return nil }
        return entry
    }

    private static func kindProblem(_ info: stat) -> OpenFileFailure? {
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return .directory
        default: return .notRegular
        }
    }

    /// Closes the entries unused for `idleLimit` (an idle descriptor would
    /// keep a deleted file's space); at most every few seconds.
    private func sweep(now: UInt64) {
        nextSweep = now + Self.idleLimit / 4
        entries = entries.filter { now - $0.value.checked < Self.idleLimit }
    }

    /// Makes room: the idle entries go, else the least recently checked.
    private func evict(now: UInt64) {
        sweep(now: now)
        guard entries.count >= Self.capacity, let oldest = entries.min(by: { $0.value.checked < $1.value.checked })
        else { return }
        entries[oldest.key] = nil
    }

    /// FNV-1a of the path's bytes (a collision only costs a reopen).
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash)
    }

    private static func same(_ stored: [UInt8], _ path: UnsafeRawBufferPointer) -> Bool {
        guard stored.count == path.count else { return false }
        guard let other = path.baseAddress else { return stored.isEmpty }
        return stored.withUnsafeBytes { memcmp($0.baseAddress!, other, path.count) == 0 }
    }
}

/// `open(2)` for reading (outside the cache, whose `open` would shadow it).
private func openForReading(_ path: UnsafePointer<CChar>) -> CInt {
    open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
}
