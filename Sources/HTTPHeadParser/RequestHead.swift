/// What `RequestHeadParser` found in a request head: offsets into the bytes
/// it was given (from their start), so that nothing is copied until the
/// caller makes the values it needs.
public struct RequestHead {
    /// One field line (RFC 9112 section 5): the name, and the value without
    /// its leading whitespace (the trailing whitespace is kept, as llhttp
    /// keeps it; `RequestRules` drops it).
    public struct Field: Equatable {
        public var nameStart: Int
        public var nameCount: Int
        public var valueStart: Int
        public var valueCount: Int
    }

    /// How the body is delimited (RFC 9112 section 6.3).
    public enum Framing: Equatable {
        /// No body (rule 7: neither Content-Length nor Transfer-Encoding).
        case none
        /// `Content-Length` bytes (rule 6).
        case length(UInt64)
        /// Transfer-Encoding whose final coding is chunked (rule 4).
        case chunked
    }

    /// Index into `RequestMethods.names`.
    public var method = 0
    public var targetStart = 0
    public var targetCount = 0
    /// 1 for every HTTP/1.x request.
    public var versionMajor = 1
    /// 0 or 1: a higher minor version (2 to 9) is read as 1 (RFC 9110 section 2.5).
    public var versionMinor = 1
    /// The minor version as received.
    public var receivedMinor = 1
    public var fields: [Field] = []
    public var framing = Framing.none
    /// llhttp's reading of the Connection tokens: HTTP/1.1 stays open unless
    /// `close`; HTTP/1.0 only with `keep-alive`.
    public var keepAlive = true
    /// `Upgrade` with a Connection `upgrade` token, or CONNECT: nothing after
    /// this message is read as HTTP (llhttp's upgrade rule).
    public var isUpgrade = false
    /// The bytes the head took, CR LF before the request line included.
    public var length = 0

    public init() {}
}

/// Why a request head (or a chunked body, or its trailers) cannot be read.
/// The connection answers 400, except `headTooLarge` (431) and
/// `unsupportedVersion` (505).
public enum HeadError: Error, Equatable {
    /// Not one of the methods llhttp knows, as it knows them (case-sensitive).
    case invalidMethod
    /// Not one SP, or a byte a request target cannot hold.
    case invalidTarget
    /// `HTTP/` followed by something other than `1.d` (RFC 9110 15.6.6: 505).
    case unsupportedVersion
    /// The request line does not end in `HTTP/`: not HTTP at all.
    case invalidConstant
    /// A field name that is empty or not a token, or whitespace before the colon.
    case invalidHeaderToken
    /// A control character in a field value.
    case invalidHeaderValue
    /// A line that ends in a bare LF, or a CR not followed by LF.
    case lineEnding
    /// A field line that starts with whitespace (obs-fold, RFC 9112 section 5.2).
    case obsoleteLineFolding
    /// Past the size or field-count limits: 431.
    case headTooLarge
    /// Not digits, past 2^64, or given twice (RFC 9112 section 6.3 rule 5).
    case invalidContentLength
    /// Both Content-Length and Transfer-Encoding (RFC 9112 section 6.3 rule 3).
    case contentLengthWithTransferEncoding
    /// A Transfer-Encoding whose final coding is not chunked (rule 4).
    case invalidTransferEncoding
    /// A chunk-size line or the CRLF after chunk data that does not parse.
    case invalidChunk
}

/// Limits on a head, counted as NIO's decoder counts them: the target and
/// each field's name and value bytes.
public struct HeadLimits {
    /// Target plus all field names and values (431 past it).
    public var maxCountedBytes: Int
    /// Field lines (431 past it).
    public var maxFieldCount: Int
    /// The raw head, whitespace and line ends included: a bound on what is
    /// held before the head ends. Stricter than NIO, which counts no
    /// whitespace: a head padded with whitespace is 431 here.
    public var maxRawBytes: Int

    public init(maxCountedBytes: Int, maxFieldCount: Int) {
        self.maxCountedBytes = maxCountedBytes
        self.maxFieldCount = maxFieldCount
        self.maxRawBytes = maxCountedBytes + 4 * maxFieldCount + 4096
    }
}
