import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A request body the route reads as it arrives (`req.stream`, lua-api
/// section 19; Microdot 2.7 streams a body over `max_body_length`). The
/// connection appends what it receives; the route takes it part by part.
/// At most `highWater` bytes (plus one socket read) wait here: past that
/// the connection stops reading the socket until the route takes some, so
/// an upload costs this much memory however large it is.
///
/// The temp files a streamed multipart body spools to belong here too:
/// they are removed when the request ends.
final class RequestBodyStream {
    enum Failure: Equatable {
        /// The body grew past `max_content_length`: the read raises 413.
        case tooLarge
        /// Nothing arrived for `--body-timeout`: the read raises 408.
        case timedOut
        /// The rest cannot be parsed (a malformed chunk, a body cut short):
        /// the read raises 400.
        case unreadable
    }

    /// What a read finds when nothing is buffered.
    enum Empty: Equatable {
        /// More is coming: the reader waits (`onAvailable`).
        case wait
        /// The body ended.
        case end
        case failed(Failure)
    }

    /// The bytes that may wait unread before the connection stops reading.
    static let highWater = 1024 * 1024

    private var parts = CircularBuffer<ByteBuffer>()
    private(set) var buffered = 0
    /// All the bytes that arrived, read or not.
    private(set) var received = 0
    private(set) var isComplete = false
    private(set) var failure: Failure?
    /// The response is written: what still arrives is dropped.
    private(set) var isDiscarding = false
    /// The client waits for 100 Continue before it sends the body: owed
    /// when the route first reads (RFC 9110 section 10.1.1).
    private(set) var continuePending: Bool
    /// Temp files made for this request (`core.temp_file`).
    private(set) var tempFiles: [String] = []

    /// Set by the reader while it waits: called once something arrives,
    /// the body ends or fails.
    var onAvailable: (() -> Void)?
    /// Set by the connection: called when the route takes bytes or first
    /// asks for them, so that it sends a 100 Continue that is owed or reads
    /// the socket again. Called from inside Lua: it must only schedule work.
    var onDemand: (() -> Void)?

    /// A stream the connection feeds; `expectsContinue` when the client
    /// sent `Expect: 100-continue`.
    init(expectsContinue: Bool = false) {
        continuePending = expectsContinue
    }

    /// A body that is all here already, in `parts` (the test clients).
    convenience init(complete parts: [ByteBuffer]) {
        self.init()
        for var part in parts { append(&part) }
        finish()
    }

    /// Whether the connection should read the socket for this body.
    var wantsMore: Bool {
        isDiscarding || (failure == nil && !isComplete && buffered < Self.highWater)
    }

    /// The response went without the body being read, and the client still
    /// waits for its 100 Continue: it will not send the body, so the
    /// connection cannot be kept.
    var bodyWithheld: Bool { continuePending && received == 0 && !isComplete }

    // MARK: From the connection

    func append(_ part: inout ByteBuffer) {
        received += part.readableBytes
        continuePending = false
        guard !isDiscarding, failure == nil, part.readableBytes > 0 else { return }
        buffered += part.readableBytes
        parts.append(part)
        wake()
    }

    func finish() {
        isComplete = true
        wake()
    }

    func fail(_ failure: Failure) {
        guard self.failure == nil, !isComplete else { return }
        self.failure = failure
        parts.removeAll()
        buffered = 0
        wake()
    }

    /// The request is answered: drop what is buffered and what comes.
    func discardRest() {
        isDiscarding = true
        parts.removeAll()
        buffered = 0
        onAvailable = nil
    }

    private func wake() {
        guard let onAvailable else { return }
        self.onAvailable = nil
        onAvailable()
    }

    // MARK: From the route

    /// Up to `max` bytes (all of the next part when nil) passed to `take`,
    /// or why there are none.
    func read(max: Int?, _ take: (UnsafeRawBufferPointer) -> Void) -> Empty? {
        let owedContinue = continuePending
        defer { if owedContinue || buffered < Self.highWater { onDemand?() } }
        guard failure == nil else { return .failed(failure!) }
        guard var part = parts.popFirst() else { return isComplete ? .end : .wait }
        let count = Swift.min(max ?? part.readableBytes, part.readableBytes)
        part.withUnsafeReadableBytes { take(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        part.moveReaderIndex(forwardBy: count)
        buffered -= count
        if part.readableBytes > 0 { parts.prepend(part) }
        return nil
    }

    /// Whether a read would find something (bytes, the end, a failure).
    var isReadable: Bool { buffered > 0 || isComplete || failure != nil }

    /// The 100 Continue is being sent.
    func continueSent() {
        continuePending = false
    }

    /// The response's head is going out: no 100 Continue may follow it.
    func responseStarted() {
        continuePending = false
    }

    // MARK: Temp files

    /// A new empty file, mode 0600, in `$TMPDIR` (or `/tmp`), removed when
    /// the request ends; its path, or the error.
    func makeTempFile() -> Result<String, Errno> {
        let folder = Self.tempDirectory
        var template = Array((folder + "/microdot-upload-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { return .failure(Errno(errno)) }
        close(descriptor)
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        tempFiles.append(path)
        return .success(path)
    }

    /// Moves one of this request's temp files to `destination`: it is then
    /// the app's, and no longer removed.
    func renameTempFile(_ path: String, to destination: String) -> Result<Void, Errno> {
        guard let index = tempFiles.firstIndex(of: path) else { return .failure(Errno(ENOENT)) }
        guard rename(path, destination) == 0 else { return .failure(Errno(errno)) }
        tempFiles.remove(at: index)
        return .success(())
    }

    func removeTempFiles() {
        for path in tempFiles { unlink(path) }
        tempFiles.removeAll()
    }

    /// `$TMPDIR`, or `/tmp` (never the working directory, where Microdot
    /// puts its spooled uploads).
    private static var tempDirectory: String {
        guard let value = getenv("TMPDIR"), value.pointee != 0 else { return "/tmp" }
        var path = String(cString: value)
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// An `errno` value as an Error, worded by `strerror`.
    struct Errno: Error, CustomStringConvertible {
        let code: Int32
        init(_ code: Int32) { self.code = code }
        var description: String { String(cString: strerror(code)) }
    }
}
