/// A request body's framing (RFC 9112 sections 6 and 7.1), read in place:
/// it says which of the bytes given are body data and how many it took,
/// and keeps its place between calls. Chunk extensions are checked
/// (`;name[=token|quoted-string]`, no whitespace, as llhttp has them) and
/// dropped; the trailer section is left to `RequestHeadParser`.
public struct BodyDecoder {
    public enum Step: Equatable {
        /// `bytes[start..<start+count]` is body data; everything up to its end is taken.
        case data(start: Int, count: Int)
        /// The first `consumed` bytes are taken (framing); more are needed.
        case needMore(consumed: Int)
        /// The last chunk was read: the trailer section starts after `consumed` bytes.
        case trailers(consumed: Int)
        /// The message ends after `consumed` bytes.
        case end(consumed: Int)
        case failed(HeadError)
    }

    private enum State: Equatable {
        case length(remaining: UInt64)
        case chunkSize(value: UInt64, digits: Int)
        case extensionName(empty: Bool)
        case extensionValueStart
        case extensionToken(empty: Bool)
        case extensionQuoted(escaped: Bool)
        case extensionQuotedEnd
        case chunkSizeLineFeed(size: UInt64)
        case chunkData(remaining: UInt64)
        case chunkDataCR
        case chunkDataLineFeed
        case done
    }

    private var state: State

    /// `framing` must not be `.none`.
    public init(framing: RequestHead.Framing) {
        switch framing {
        case .length(let length): state = .length(remaining: length)
        case .chunked, .none: state = .chunkSize(value: 0, digits: 0)
        }
    }

    public mutating func decode(_ bytes: UnsafeRawBufferPointer) -> Step {
        let count = bytes.count
        var i = 0
        while i < count {
            let byte = bytes[i]
            switch state {
            case .length(let remaining), .chunkData(let remaining):
                let taken = Int(min(remaining, UInt64(count - i)))
                let left = remaining - UInt64(taken)
                if case .length = state {
                    state = left == 0 ? .done : .length(remaining: left)
                } else {
                    state = left == 0 ? .chunkDataCR : .chunkData(remaining: left)
                }
                return .data(start: i, count: taken)
            case .chunkSize(let value, let digits):
                if let digit = Self.hexDigit(byte) {
                    guard value >> 60 == 0 else { return .failed(.invalidChunk) }
                    state = .chunkSize(value: value << 4 | UInt64(digit), digits: digits + 1)
                } else if digits > 0 && byte == .cr {
                    state = .chunkSizeLineFeed(size: value)
                } else if digits > 0 && byte == UInt8(ascii: ";") {
                    pendingSize = value
                    state = .extensionName(empty: true)
                } else {
                    return .failed(.invalidChunk)
                }
            case .extensionName(let empty):
                if CharacterClasses.isToken(byte) {
                    state = .extensionName(empty: false)
                } else if empty {
                    return .failed(.invalidChunk)
                } else if byte == UInt8(ascii: "=") {
                    state = .extensionValueStart
                } else if let next = afterExtension(byte) {
                    state = next
                } else {
                    return .failed(.invalidChunk)
                }
            case .extensionValueStart:
                if byte == UInt8(ascii: "\"") {
                    state = .extensionQuoted(escaped: false)
                } else if CharacterClasses.isToken(byte) {
                    state = .extensionToken(empty: false)
                } else {
                    return .failed(.invalidChunk)
                }
            case .extensionToken:
                if CharacterClasses.isToken(byte) { break }
                guard let next = afterExtension(byte) else { return .failed(.invalidChunk) }
                state = next
            case .extensionQuoted(let escaped):
                // qdtext and quoted-pair (RFC 9110 section 5.6.4).
                guard byte == .tab || (byte >= 0x20 && byte != 0x7F) else { return .failed(.invalidChunk) }
                if escaped {
                    state = .extensionQuoted(escaped: false)
                } else if byte == UInt8(ascii: "\\") {
                    state = .extensionQuoted(escaped: true)
                } else if byte == UInt8(ascii: "\"") {
                    state = .extensionQuotedEnd
                }
            case .extensionQuotedEnd:
                guard let next = afterExtension(byte) else { return .failed(.invalidChunk) }
                state = next
            case .chunkSizeLineFeed(let size):
                guard byte == .lf else { return .failed(.invalidChunk) }
                if size == 0 {
                    state = .done
                    return .trailers(consumed: i + 1)
                }
                state = .chunkData(remaining: size)
            case .chunkDataCR:
                guard byte == .cr else { return .failed(.invalidChunk) }
                state = .chunkDataLineFeed
            case .chunkDataLineFeed:
                guard byte == .lf else { return .failed(.invalidChunk) }
                state = .chunkSize(value: 0, digits: 0)
            case .done:
                return .end(consumed: i)
            }
            i += 1
        }
        if state == .done { return .end(consumed: i) }
        return .needMore(consumed: i)
    }

    /// Whether the body is complete.
    public var isDone: Bool { state == .done }

    /// The size of the chunk whose extensions are being read.
    private var pendingSize: UInt64 = 0

    /// After an extension: another one, or the end of the chunk-size line.
    private func afterExtension(_ byte: UInt8) -> State? {
        if byte == UInt8(ascii: ";") { return .extensionName(empty: true) }
        if byte == .cr { return .chunkSizeLineFeed(size: pendingSize) }
        return nil
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
