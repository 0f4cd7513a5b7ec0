/// Reads a request head (RFC 9112 sections 2-6) in place: request line,
/// field lines and the body's framing, with offsets into the caller's bytes
/// and no copy. It keeps its place between calls, so bytes that arrive a
/// few at a time are each looked at once; the caller passes the same bytes
/// again with more at their end.
///
/// The rules are llhttp's as NIO runs it (strict: no bare LF, no obs-fold,
/// no whitespace before a colon), with the differences listed in
/// Tests/ParserCorpus/README.md.
public struct RequestHeadParser {
    public enum Result: Equatable {
        /// The head is not complete yet; every byte so far is valid.
        case needMore
        /// The head is complete: `head` holds it.
        case complete
        case failed(HeadError)
    }

    private enum State {
        case start, method, targetStart, target, constant, version, requestLineFeed
        case lineStart, name, valueStart, value, valueLineFeed, endLineFeed
    }

    public private(set) var head = RequestHead()
    public let limits: HeadLimits
    private var state = State.start
    /// The next byte to look at.
    private var position = 0
    private var spanStart = 0
    private var nameStart = 0
    private var nameCount = 0
    /// Where the value being read ends (its CR).
    private var valueEnd = 0
    private var counted = 0
    /// Reading trailer fields (after a chunked body's last chunk): no request line.
    private var trailers = false

    public init(limits: HeadLimits) {
        self.limits = limits
        head.fields.reserveCapacity(16)
    }

    /// Whether a byte of a request line was read (CR LF before it do not count).
    public var hasStarted: Bool { state != .start }

    /// Starts on the next head, at offset 0 of the bytes to come; the field
    /// array keeps its storage.
    public mutating func reset() {
        var fields = head.fields
        fields.removeAll(keepingCapacity: true)
        head = RequestHead()
        head.fields = fields
        state = .start
        position = 0
        skipped = 0
        counted = 0
        trailers = false
    }

    /// Starts on a trailer section: field lines up to an empty line.
    public mutating func resetForTrailers() {
        reset()
        trailers = true
        state = .lineStart
        spanStart = 0
    }

    /// Goes on through `bytes` (the same bytes as before, perhaps with more
    /// at their end).
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> Result {
        let result = scan(bytes)
        // The same verdict however the bytes were cut: a complete head is
        // held to the limit as a partial one is.
        let held = result == .complete ? head.length : position
        if result != .failed(.headTooLarge), held - skipped > limits.maxRawBytes { return .failed(.headTooLarge) }
        return result
    }

    /// CR and LF before the request line (skipped, as llhttp does).
    private var skipped = 0

    private mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Result {
        let count = bytes.count
        var i = position
        defer { position = i }
        while i < count {
            let byte = bytes[i]
            switch state {
            case .start:
                if byte == .cr || byte == .lf {
                    i += 1
                    skipped = i
                    continue
                }
                spanStart = i
                state = .method
            case .method:
                if byte == .space {
                    guard let method = RequestMethods.lookup(bytes, start: spanStart, count: i - spanStart) else {
                        return .failed(.invalidMethod)
                    }
                    head.method = method
                    state = .targetStart
                } else if i - spanStart >= 11 || !CharacterClasses.isToken(byte) {
                    return .failed(.invalidMethod)
                }
                i += 1
            case .targetStart:
                guard CharacterClasses.isTarget(byte) else { return .failed(.invalidTarget) }
                spanStart = i
                state = .target
            case .target:
                while i < count, CharacterClasses.isTarget(bytes[i]) { i += 1 }
                guard i < count else { break }
                guard bytes[i] == .space else { return .failed(.invalidTarget) }
                head.targetStart = spanStart
                head.targetCount = i - spanStart
                counted = head.targetCount
                if counted > limits.maxCountedBytes { return .failed(.headTooLarge) }
                i += 1
                spanStart = i
                state = .constant
            case .constant:
                let offset = i - spanStart
                guard byte == CharacterClasses.httpSlash[offset] else { return .failed(.invalidConstant) }
                i += 1
                if offset == 4 {
                    spanStart = i
                    state = .version
                }
            case .version:
                if byte == .cr {
                    guard i - spanStart == 3, bytes[spanStart + 1] == UInt8(ascii: "."),
                        let major = CharacterClasses.digit(bytes[spanStart]), major == 1,
                        let minor = CharacterClasses.digit(bytes[spanStart + 2])
                    else { return .failed(.unsupportedVersion) }
                    head.receivedMinor = minor
                    head.versionMinor = min(minor, 1)
                    state = .requestLineFeed
                } else if byte == .lf {
                    return .failed(.lineEnding)
                } else if i - spanStart >= 3 {
                    return .failed(.unsupportedVersion)
                }
                i += 1
            case .requestLineFeed, .valueLineFeed:
                guard byte == .lf else { return .failed(.lineEnding) }
                if state == .valueLineFeed, let failure = endField() { return .failed(failure) }
                i += 1
                state = .lineStart
            case .lineStart:
                if byte == .cr {
                    state = .endLineFeed
                } else if byte == .space || byte == .tab {
                    return .failed(.obsoleteLineFolding)
                } else if byte == .lf {
                    return .failed(.lineEnding)
                } else if !CharacterClasses.isToken(byte) {
                    return .failed(.invalidHeaderToken)
                } else {
                    if head.fields.count >= limits.maxFieldCount { return .failed(.headTooLarge) }
                    nameStart = i
                    state = .name
                }
                i += 1
            case .name:
                while i < count, CharacterClasses.isToken(bytes[i]) { i += 1 }
                guard i < count else { break }
                guard bytes[i] == UInt8(ascii: ":") else { return .failed(.invalidHeaderToken) }
                nameCount = i - nameStart
                i += 1
                state = .valueStart
            case .valueStart:
                if byte == .space || byte == .tab {
                    i += 1
                } else {
                    spanStart = i
                    state = .value
                }
            case .value:
                while i < count, CharacterClasses.isFieldValue(bytes[i]) { i += 1 }
                guard i < count else { break }
                if bytes[i] == .cr {
                    valueEnd = i
                    state = .valueLineFeed
                    i += 1
                } else if bytes[i] == .lf {
                    return .failed(.lineEnding)
                } else {
                    return .failed(.invalidHeaderValue)
                }
            case .endLineFeed:
                guard byte == .lf else { return .failed(.lineEnding) }
                i += 1
                head.length = i
                if trailers { return .complete }
                if let failure = RequestFraming.apply(to: &head, bytes) { return .failed(failure) }
                return .complete
            }
        }
        return .needMore
    }

    /// The field whose CR LF was just read.
    private mutating func endField() -> HeadError? {
        let valueCount = valueEnd - spanStart
        head.fields.append(
            RequestHead.Field(nameStart: nameStart, nameCount: nameCount, valueStart: spanStart, valueCount: valueCount)
        )
        counted += nameCount + valueCount
        return counted > limits.maxCountedBytes ? .headTooLarge : nil
    }
}
