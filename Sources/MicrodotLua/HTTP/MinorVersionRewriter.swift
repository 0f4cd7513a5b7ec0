import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// RFC 9110 section 2.5: "a recipient of a higher minor version SHOULD
/// process the message as if it were in the highest minor version within
/// that major version". NIO's parser (llhttp) takes HTTP/1.0 and 1.1 only,
/// so a request line ending in ` HTTP/1.d` (d from 2 to 9) has its version
/// rewritten to `HTTP/1.1` in the bytes before they reach it, as nginx serves
/// such a request.
///
/// To know where each request line starts on a keep-alive or pipelined
/// connection, the rewriter follows the framing of RFC 9112 section 6 the way
/// llhttp (strict) does: the head ends at its empty line; then a
/// `Content-Length` body, a chunked body (chunk-size lines with extensions,
/// data, the last chunk and its trailer section), or none. Bytes are passed
/// on as they come (rewritten in place); only the version digit and its CR
/// are held back when a buffer ends right after them. Anything it does not
/// follow exactly (a bare LF, obs-fold, two `Content-Length`s or one that is
/// not digits, `Transfer-Encoding` other than exactly `chunked`, both,
/// `Upgrade`, `CONNECT`, a chunk size that does not parse) ends its work:
/// the rest of the connection passes untouched, and the parser and
/// `RequestRules` decide (they refuse those requests and close). A parser
/// error stops the parser for good, so bytes after one are never read as a
/// request.
struct MinorVersionRewriter {
    /// What to do with the bytes being scanned.
    enum Event: Equatable {
        /// Set the byte at this offset (from the reader index) to `1`.
        case rewrite(at: Int)
        /// Pass these bytes, held back from earlier buffers, before this one:
        /// the version digit (already rewritten when it is to be), then a CR
        /// when it was held too.
        case release(digit: UInt8, carriageReturn: Bool)
        /// The buffer is scanned: pass it on, but its last `holdBack` bytes
        /// (0 to 2), which a later `release` gives back.
        case done(holdBack: Int)
    }

    /// Where a line feed leads.
    private enum AfterLine {
        case field
        case headEnd
        case chunkData(Int)
        case nextChunk
        case messageEnd
    }

    /// The header fields that change framing or end the rewriter's work.
    private enum Field {
        case contentLength
        case transferEncoding
        case upgrade

        var name: StaticString {
            switch self {
            case .contentLength: "content-length"
            case .transferEncoding: "transfer-encoding"
            case .upgrade: "upgrade"
            }
        }
    }

    private enum Phase {
        /// Before a request line; CR and LF are skipped there, as llhttp does.
        case requestStart
        /// The line began with the first `matched` bytes of `CONNECT `.
        case method(matched: Int)
        /// In the request line; `version` is how much of ` HTTP/1.d\r\n`
        /// its bytes so far end with.
        case requestLine(version: Int)
        case fieldStart
        case fieldName(Field, matched: Int)
        /// `digits`: none yet, in them, or past them (trailing whitespace).
        case contentLength(value: Int, digits: Digits)
        /// How much of `chunked` the value matched.
        case transferEncoding(matched: Int)
        /// The rest of a line of no interest, to its CRLF.
        case skipLine(inTrailers: Bool)
        /// After a CR: an LF must follow.
        case lineFeed(AfterLine)
        case body(remaining: Int)
        case chunkSize(value: Int, digits: Int)
        case chunkExtension(size: Int)
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailerStart
        case passthrough
    }

    private enum Digits {
        case before
        case inside
        case after
    }

    private var phase = Phase.requestStart
    private var contentLength: Int?
    private var chunked = false
    /// The last byte scanned, for a line feed at the start of a buffer.
    private var lastByte: UInt8 = 0
    /// Bytes of the request line held back from earlier buffers (0 to 2):
    /// the version digit, and a CR after it.
    private var held = 0
    private var heldDigit: UInt8 = 0

    /// Once true, every later byte of the connection passes untouched.
    var isPassingThrough: Bool {
        if case .passthrough = phase { return true }
        return false
    }

    /// Bytes held back from an earlier buffer, to pass before the next one:
    /// the version digit (already rewritten when it is to be), then a CR
    /// when it was held too.
    struct Released: Equatable {
        var digit: UInt8
        var carriageReturn: Bool

        /// Them in a buffer of their own.
        func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
            var buffer = allocator.buffer(capacity: 2)
            buffer.writeInteger(digit)
            if carriageReturn { buffer.writeInteger(UInt8.cr) }
            return buffer
        }
    }

    /// Scans `buffer`, rewriting versions in place. Returns the bytes held
    /// back from earlier buffers that go before it (at most one release a
    /// buffer: they are decided by its first bytes), and how many bytes at
    /// its end to hold back for now (0 to 2).
    mutating func process(_ buffer: inout ByteBuffer) -> (released: Released?, holdBack: Int) {
        var offset = 0
        var released: Released?
        while true {
            let event = buffer.withUnsafeReadableBytes { scan($0, from: &offset) }
            switch event {
            case .rewrite(let at):
                buffer.setInteger(UInt8(ascii: "1"), at: buffer.readerIndex + at)
            case .release(let digit, let carriageReturn):
                released = Released(digit: digit, carriageReturn: carriageReturn)
            case .done(let holdBack):
                return (released, holdBack)
            }
        }
    }

    /// The bytes held back, unchanged, when no more will come (end of
    /// input); nothing is rewritten after that.
    mutating func flush() -> Released? {
        defer {
            held = 0
            phase = .passthrough
        }
        return held > 0 ? Released(digit: heldDigit, carriageReturn: held == 2) : nil
    }

    /// Scans `bytes` from `offset`, which it moves past what it scanned,
    /// until there is something to do.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, from offset: inout Int) -> Event {
        let count = bytes.count
        var i = offset
        defer { offset = i }
        while i < count {
            let byte = bytes[i]
            switch phase {
            case .passthrough:
                return .done(holdBack: 0)
            case .requestStart:
                if byte == .cr || byte == .lf {
                    i += 1
                } else if byte == UInt8(ascii: "C") {
                    phase = .method(matched: 1)
                    i += 1
                } else {
                    phase = .requestLine(version: 0)
                }
            case .method(let matched):
                let connect: StaticString = "CONNECT "
                if byte == connect.utf8Start[matched] {
                    i += 1
                    phase = matched + 1 == connect.utf8CodeUnitCount ? .passthrough : .method(matched: matched + 1)
                } else {
                    phase = .requestLine(version: 0)
                }
            case .requestLine(let version):
                if held > 0 {
                    // The digit (and CR) held back: this byte decides.
                    let next = Self.advance(version, byte)
                    i += 1
                    if next == Self.versionPattern {
                        phase = .fieldStart
                        return release(rewritten: true)
                    }
                    if next >= 9 {
                        phase = .requestLine(version: next)
                        continue
                    }
                    i -= 1  // scanned again as part of the line
                    phase = .requestLine(version: 0)
                    return release(rewritten: false)
                }
                if let event = requestLine(bytes, from: &i, version: version) { return event }
            case .fieldStart:
                switch byte {
                case .cr:
                    phase = .lineFeed(.headEnd)
                case .lf, .space, .tab:
                    phase = .passthrough  // a bare LF, or obs-fold
                default:
                    switch byte | 0x20 {
                    case UInt8(ascii: "c"): phase = .fieldName(.contentLength, matched: 1)
                    case UInt8(ascii: "t"): phase = .fieldName(.transferEncoding, matched: 1)
                    case UInt8(ascii: "u"): phase = .fieldName(.upgrade, matched: 1)
                    default: phase = .skipLine(inTrailers: false)
                    }
                }
                i += 1
            case .fieldName(let field, let matched):
                let name = field.name
                if matched == name.utf8CodeUnitCount {
                    if byte == UInt8(ascii: ":") {
                        i += 1
                        fieldValueStarts(field)
                    } else if byte == .space || byte == .tab {
                        phase = .passthrough  // whitespace before the colon
                    } else {
                        phase = .skipLine(inTrailers: false)  // a longer name
                    }
                } else if Self.matches(byte, name.utf8Start[matched]) {
                    phase = .fieldName(field, matched: matched + 1)
                    i += 1
                } else {
                    phase = .skipLine(inTrailers: false)
                }
            case .contentLength(let value, let digits):
                contentLengthValue(byte, value: value, digits: digits)
                i += 1
            case .transferEncoding(let matched):
                transferEncodingValue(byte, matched: matched)
                i += 1
            case .skipLine(let inTrailers):
                guard let end = Self.lineFeed(in: bytes, from: i) else {
                    i = count
                    break
                }
                guard (end > 0 ? bytes[end - 1] : lastByte) == .cr else {
                    phase = .passthrough
                    break
                }
                phase = inTrailers ? .trailerStart : .fieldStart
                i = end + 1
            case .lineFeed(let after):
                guard byte == .lf else {
                    phase = .passthrough
                    break
                }
                i += 1
                lineEnded(after)
            case .body(let remaining):
                let taken = min(remaining, count - i)
                i += taken
                phase = taken == remaining ? .requestStart : .body(remaining: remaining - taken)
            case .chunkSize(let value, let digits):
                chunkSize(byte, value: value, digits: digits)
                i += 1
            case .chunkExtension(let size):
                // Its syntax is the parser's to check; the line ends at CRLF.
                if byte == .cr {
                    phase = .lineFeed(.chunkData(size))
                } else if byte == .lf {
                    phase = .passthrough
                }
                i += 1
            case .chunkData(let remaining):
                let taken = min(remaining, count - i)
                i += taken
                phase = taken == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - taken)
            case .chunkDataEnd:
                phase = byte == .cr ? .lineFeed(.nextChunk) : .passthrough
                i += 1
            case .trailerStart:
                switch byte {
                case .cr: phase = .lineFeed(.messageEnd)
                case .lf, .space, .tab: phase = .passthrough
                default: phase = .skipLine(inTrailers: true)
                }
                i += 1
            }
        }
        if count > 0 { lastByte = bytes[count - 1] }
        return .done(holdBack: holdBackAtEnd(of: bytes))
    }

    // MARK: The request line

    /// ` HTTP/1.d\r\n`: its length.
    private static let versionPattern = 11

    /// The progress through ` HTTP/1.d\r\n` after `byte`; the pattern's only
    /// space is its first byte, so a mismatch restarts at 0, or at 1 on a
    /// space.
    private static func advance(_ state: Int, _ byte: UInt8) -> Int {
        let expected: Bool
        switch state {
        case 0: expected = byte == .space
        case 8: expected = byte >= UInt8(ascii: "2") && byte <= UInt8(ascii: "9")
        case 9: expected = byte == .cr
        case 10: expected = byte == .lf
        default:
            let prefix: StaticString = " HTTP/1."
            expected = byte == prefix.utf8Start[state]
        }
        return expected ? state + 1 : (byte == .space ? 1 : 0)
    }

    /// The request line from `i`, with no bytes held back: to its LF, or to
    /// the end of the buffer, keeping the version progress.
    private mutating func requestLine(_ bytes: UnsafeRawBufferPointer, from i: inout Int, version: Int) -> Event? {
        guard let end = Self.lineFeed(in: bytes, from: i) else {
            // The line goes on in the next buffer. What it ends with is in
            // its last 10 bytes at most.
            let start = i
            i = bytes.count
            var state = bytes.count - start >= 10 ? 0 : version
            for index in max(start, bytes.count - 10)..<bytes.count {
                state = Self.advance(state, bytes[index])
            }
            phase = .requestLine(version: state)
            return nil
        }
        guard (end > 0 ? bytes[end - 1] : lastByte) == .cr else {
            phase = .passthrough  // a bare LF
            return nil
        }
        let start = i
        phase = .fieldStart
        i = end + 1
        let digit = end - 2
        if end - start >= 10 {
            // The common case, the line's end in this buffer: only a digit
            // other than 0 and 1 needs a look at what precedes it.
            let byte = bytes[digit]
            guard byte >= UInt8(ascii: "2") && byte <= UInt8(ascii: "9") else { return nil }
            let prefix: StaticString = " HTTP/1."
            for index in 0..<prefix.utf8CodeUnitCount where bytes[end - 10 + index] != prefix.utf8Start[index] {
                return nil
            }
        } else {
            // A short piece (of a line that began in an earlier buffer, or
            // a short line), from the progress the line had. Nothing was
            // held back, so a match has its digit in this buffer.
            var state = version
            for index in start...end { state = Self.advance(state, bytes[index]) }
            guard state == Self.versionPattern, digit >= start else { return nil }
        }
        return .rewrite(at: digit)
    }

    private mutating func release(rewritten: Bool) -> Event {
        let carriageReturn = held == 2
        held = 0
        return .release(digit: rewritten ? UInt8(ascii: "1") : heldDigit, carriageReturn: carriageReturn)
    }

    /// At the end of a buffer in the request line, the version digit and
    /// the CR after it are held back: the next bytes say whether they are
    /// rewritten.
    private mutating func holdBackAtEnd(of bytes: UnsafeRawBufferPointer) -> Int {
        guard case .requestLine(let version) = phase, version >= 9 else { return 0 }
        let total = version - 8
        let fromThisBuffer = total - held
        if held == 0 { heldDigit = bytes[bytes.count - fromThisBuffer] }
        held = total
        return fromThisBuffer
    }

    // MARK: Header fields

    private mutating func fieldValueStarts(_ field: Field) {
        switch field {
        case .upgrade:
            phase = .passthrough
        case .contentLength:
            phase = contentLength == nil ? .contentLength(value: 0, digits: .before) : .passthrough
        case .transferEncoding:
            phase = chunked ? .passthrough : .transferEncoding(matched: 0)
        }
    }

    private mutating func contentLengthValue(_ byte: UInt8, value: Int, digits: Digits) {
        switch byte {
        case .space, .tab:
            phase = .contentLength(value: value, digits: digits == .inside ? .after : digits)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard digits != .after, value <= (Int.max - 9) / 10 else {
                phase = .passthrough
                return
            }
            phase = .contentLength(value: value * 10 + Int(byte - UInt8(ascii: "0")), digits: .inside)
        case .cr where digits != .before:
            contentLength = value
            phase = .lineFeed(.field)
        default:
            phase = .passthrough
        }
    }

    private mutating func transferEncodingValue(_ byte: UInt8, matched: Int) {
        let coding: StaticString = "chunked"
        let length = coding.utf8CodeUnitCount
        switch byte {
        case .space, .tab:
            if matched != 0 && matched != length { phase = .passthrough }
        case .cr where matched == length:
            chunked = true
            phase = .lineFeed(.field)
        default:
            if matched < length && byte | 0x20 == coding.utf8Start[matched] {
                phase = .transferEncoding(matched: matched + 1)
            } else {
                phase = .passthrough
            }
        }
    }

    private mutating func lineEnded(_ after: AfterLine) {
        switch after {
        case .field:
            phase = .fieldStart
        case .headEnd:
            let length = contentLength
            let isChunked = chunked
            contentLength = nil
            chunked = false
            if isChunked {
                phase = length == nil ? .chunkSize(value: 0, digits: 0) : .passthrough
            } else if let length, length > 0 {
                phase = .body(remaining: length)
            } else {
                phase = .requestStart
            }
        case .chunkData(let size):
            phase = size == 0 ? .trailerStart : .chunkData(remaining: size)
        case .nextChunk:
            phase = .chunkSize(value: 0, digits: 0)
        case .messageEnd:
            phase = .requestStart
        }
    }

    // MARK: Chunks

    private mutating func chunkSize(_ byte: UInt8, value: Int, digits: Int) {
        let digit: Int
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
        case UInt8(ascii: ";") where digits > 0:
            phase = .chunkExtension(size: value)
            return
        case .cr where digits > 0:
            phase = .lineFeed(.chunkData(value))
            return
        default:
            phase = .passthrough
            return
        }
        guard value <= Int.max >> 5 else {
            phase = .passthrough
            return
        }
        phase = .chunkSize(value: value << 4 | digit, digits: digits + 1)
    }

    // MARK: Bytes

    /// Letters compare without case (header names and codings are caseless);
    /// other bytes exactly (CR | 0x20 is `-`).
    private static func matches(_ byte: UInt8, _ lowercase: UInt8) -> Bool {
        if lowercase >= UInt8(ascii: "a") && lowercase <= UInt8(ascii: "z") { return byte | 0x20 == lowercase }
        return byte == lowercase
    }

    private static func lineFeed(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress,
            let found = memchr(base + start, Int32(UInt8.lf), bytes.count - start)
        else { return nil }
        return UnsafeRawPointer(found) - base
    }
}

extension UInt8 {
    fileprivate static let cr = UInt8(ascii: "\r")
    fileprivate static let lf = UInt8(ascii: "\n")
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")
}

/// Put before NIO's `HTTPRequestDecoder`: serves a request in a higher
/// HTTP/1 minor version as HTTP/1.1 (RFC 9110 section 2.5; see
/// `MinorVersionRewriter`).
final class MinorVersionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var rewriter = MinorVersionRewriter()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if rewriter.isPassingThrough {
            context.fireChannelRead(data)
            return
        }
        var buffer = unwrapInboundIn(data)
        // Fired after scanning: what follows may close the channel, which
        // comes back here (channelInactive) at once.
        let (released, holdBack) = rewriter.process(&buffer)
        if let released {
            context.fireChannelRead(wrapInboundOut(released.buffer(allocator: context.channel.allocator)))
        }
        if holdBack > 0 { buffer.moveWriterIndex(to: buffer.writerIndex - holdBack) }
        if buffer.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(buffer)) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { releaseHeld(context) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseHeld(context)
        context.fireChannelInactive()
    }

    /// The parser sees every byte the client sent, before the end of input.
    private func releaseHeld(_ context: ChannelHandlerContext) {
        guard let released = rewriter.flush() else { return }
        context.fireChannelRead(wrapInboundOut(released.buffer(allocator: context.channel.allocator)))
    }
}
