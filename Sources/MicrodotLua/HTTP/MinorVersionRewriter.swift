import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// RFC 9110 section 2.5: "a recipient of a higher minor version SHOULD
/// process the message as if it were in the highest minor version within
/// that major version". NIO's parser (llhttp) takes HTTP/1.0 and 1.1 only,
/// so a request line ending in ` HTTP/1.d` (d from 2 to 9) has its version
/// digit set to `1` in the bytes before the parser reads them, and the
/// request is served as HTTP/1.1, as nginx serves it.
///
/// To know where each request line starts on a keep-alive or pipelined
/// connection, the rewriter follows the framing of RFC 9112 section 6 the way
/// llhttp (strict) does: the head ends at its empty line; then a
/// `Content-Length` body, a chunked body (chunk-size lines with extensions,
/// data, the last chunk and its trailer section), or none. It reads each
/// byte once, keeps no copy, and only asks the parser to wait for the
/// version digit and its CR when the bytes end right after them. Anything
/// it does not follow exactly (a bare LF, obs-fold, two `Content-Length`s
/// or one that is not digits, `Transfer-Encoding` other than exactly
/// `chunked`, both, `Upgrade`, `CONNECT`, a chunk size that does not parse)
/// ends its work: the rest of the connection is left as it is, to the parser
/// and `RequestRules` (which refuse those requests and close). A parser
/// error stops the parser for good, so bytes after one are never read as a
/// request.
struct MinorVersionRewriter {
    /// What to do with the bytes being scanned.
    enum Event: Equatable {
        /// Set the byte at this offset (from the reader index) to `1`.
        case rewrite(at: Int)
        /// The bytes are scanned; the parser must not read their last
        /// `holdBack` (0 to 2) yet.
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
    /// The last byte scanned, for a line feed first in the bytes.
    private var lastByte: UInt8 = 0

    /// Once true, every later byte of the connection is left as it is.
    var isPassingThrough: Bool {
        if case .passthrough = phase { return true }
        return false
    }

    /// Scans the readable bytes of `buffer` from `offset` (those before it
    /// were scanned already), rewriting versions in place. Returns how many
    /// bytes at its end (0 to 2: the version digit, and its CR) the parser
    /// must not read until more bytes say what they are.
    mutating func process(_ buffer: inout ByteBuffer, from offset: Int) -> Int {
        var offset = offset
        while true {
            let start = offset
            let event = buffer.withUnsafeReadableBytes { scan($0, from: start) }
            switch event {
            case .rewrite(let at):
                buffer.setInteger(UInt8(ascii: "1"), at: buffer.readerIndex + at)
                offset = at + 3  // past the CRLF after the digit
            case .done(let holdBack):
                return holdBack
            }
        }
    }

    /// Scans `bytes` from `offset` until there is something to do. The phase
    /// is kept in a local while scanning: stores to `self` in the loop cost.
    @inline(__always)
    mutating func scan(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Event {
        let count = bytes.count
        var i = offset
        var phase = self.phase
        defer { self.phase = phase }
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
                    let digit: Int?
                    (phase, digit) = requestLine(bytes, from: &i, version: 0)
                    if let digit { return .rewrite(at: digit) }
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
                let digit: Int?
                (phase, digit) = requestLine(bytes, from: &i, version: version)
                if let digit { return .rewrite(at: digit) }
            case .fieldStart:
                switch byte {
                case .cr:
                    i += 1
                    if i < count && bytes[i] == .lf {
                        i += 1
                        phase = lineEnded(.headEnd)
                    } else {
                        phase = .lineFeed(.headEnd)
                    }
                case .lf, .space, .tab:
                    phase = .passthrough  // a bare LF, or obs-fold
                default:
                    i += 1
                    switch byte | 0x20 {
                    case UInt8(ascii: "c"): phase = .fieldName(.contentLength, matched: 1)
                    case UInt8(ascii: "t"): phase = .fieldName(.transferEncoding, matched: 1)
                    case UInt8(ascii: "u"): phase = .fieldName(.upgrade, matched: 1)
                    default:
                        // Most fields: on to the next line at once.
                        guard let end = Self.lineFeed(in: bytes, from: i) else {
                            phase = .skipLine(inTrailers: false)
                            i = count
                            break
                        }
                        if bytes[end - 1] == .cr {
                            i = end + 1
                        } else {
                            phase = .passthrough
                        }
                    }
                }
            case .fieldName(let field, let matched):
                let name = field.name
                if matched == name.utf8CodeUnitCount {
                    if byte == UInt8(ascii: ":") {
                        i += 1
                        phase = fieldValue(field)
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
                phase = contentLengthValue(byte, value: value, digits: digits)
                i += 1
            case .transferEncoding(let matched):
                phase = transferEncodingValue(byte, matched: matched)
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
                phase = lineEnded(after)
            case .body(let remaining):
                let taken = min(remaining, count - i)
                i += taken
                phase = taken == remaining ? .requestStart : .body(remaining: remaining - taken)
            case .chunkSize(let value, let digits):
                phase = chunkSize(byte, value: value, digits: digits)
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
        guard case .requestLine(let version) = phase, version >= 9 else { return .done(holdBack: 0) }
        return .done(holdBack: version - 8)
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

    /// The request line from `i`: to its LF, or to the end of the bytes,
    /// keeping the version progress. Returns the next phase, and the offset
    /// of a version digit to rewrite.
    @inline(__always)
    private func requestLine(_ bytes: UnsafeRawBufferPointer, from i: inout Int, version: Int) -> (Phase, Int?) {
        let start = i
        guard let end = Self.lineFeed(in: bytes, from: start) else {
            // The line goes on in the next bytes. What it ends with is in
            // its last 10 bytes at most.
            i = bytes.count
            var state = bytes.count - start >= 10 ? 0 : version
            for index in max(start, bytes.count - 10)..<bytes.count {
                state = Self.advance(state, bytes[index])
            }
            return (.requestLine(version: state), nil)
        }
        guard (end > 0 ? bytes[end - 1] : lastByte) == .cr else { return (.passthrough, nil) }  // a bare LF
        i = end + 1
        let digit = end - 2
        if end - start >= 10 {
            // The common case, the line's end among the new bytes: only a
            // digit other than 0 and 1 needs a look at what precedes it.
            let byte = bytes[digit]
            guard byte >= UInt8(ascii: "2") && byte <= UInt8(ascii: "9") else { return (.fieldStart, nil) }
            let prefix: StaticString = " HTTP/1."
            for index in 0..<prefix.utf8CodeUnitCount where bytes[end - 10 + index] != prefix.utf8Start[index] {
                return (.fieldStart, nil)
            }
        } else {
            // A short piece (of a line begun in earlier bytes, or a short
            // line), from the progress the line had. A digit, and a CR,
            // among the earlier bytes were held back: they are still there.
            var state = version
            for index in start...end { state = Self.advance(state, bytes[index]) }
            guard state == Self.versionPattern else { return (.fieldStart, nil) }
        }
        return (.fieldStart, digit)
    }

    // MARK: Header fields

    private func fieldValue(_ field: Field) -> Phase {
        switch field {
        case .upgrade: .passthrough
        case .contentLength: contentLength == nil ? .contentLength(value: 0, digits: .before) : .passthrough
        case .transferEncoding: chunked ? .passthrough : .transferEncoding(matched: 0)
        }
    }

    private mutating func contentLengthValue(_ byte: UInt8, value: Int, digits: Digits) -> Phase {
        switch byte {
        case .space, .tab:
            return .contentLength(value: value, digits: digits == .inside ? .after : digits)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard digits != .after, value <= (Int.max - 9) / 10 else { return .passthrough }
            return .contentLength(value: value * 10 + Int(byte - UInt8(ascii: "0")), digits: .inside)
        case .cr where digits != .before:
            contentLength = value
            return .lineFeed(.field)
        default:
            return .passthrough
        }
    }

    private mutating func transferEncodingValue(_ byte: UInt8, matched: Int) -> Phase {
        let coding: StaticString = "chunked"
        let length = coding.utf8CodeUnitCount
        switch byte {
        case .space, .tab:
            return matched == 0 || matched == length ? .transferEncoding(matched: matched) : .passthrough
        case .cr where matched == length:
            chunked = true
            return .lineFeed(.field)
        default:
            guard matched < length && byte | 0x20 == coding.utf8Start[matched] else { return .passthrough }
            return .transferEncoding(matched: matched + 1)
        }
    }

    private mutating func lineEnded(_ after: AfterLine) -> Phase {
        switch after {
        case .field:
            return .fieldStart
        case .headEnd:
            let length = contentLength
            let isChunked = chunked
            contentLength = nil
            chunked = false
            if isChunked { return length == nil ? .chunkSize(value: 0, digits: 0) : .passthrough }
            if let length, length > 0 { return .body(remaining: length) }
            return .requestStart
        case .chunkData(let size):
            return size == 0 ? .trailerStart : .chunkData(remaining: size)
        case .nextChunk:
            return .chunkSize(value: 0, digits: 0)
        case .messageEnd:
            return .requestStart
        }
    }

    // MARK: Chunks

    private func chunkSize(_ byte: UInt8, value: Int, digits: Int) -> Phase {
        let digit: Int
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
        case UInt8(ascii: ";") where digits > 0: return .chunkExtension(size: value)
        case .cr where digits > 0: return .lineFeed(.chunkData(value))
        default: return .passthrough
        }
        guard value <= Int.max >> 5 else { return .passthrough }
        return .chunkSize(value: value << 4 | digit, digits: digits + 1)
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
