import HTTPHeadParser
import NIOCore
import NIOHTTP1

/// The connection's HTTP/1 request parser: `RequestHeadParser` and
/// `BodyDecoder` (target HTTPHeadParser) reading the channel's bytes in
/// place, giving the connection handler the parts NIO's `HTTPRequestDecoder`
/// gives (a head, body slices that share the read buffer's memory, an end),
/// and NIO's `HTTPParserError`s, which the handler answers with 400, 431 or
/// 505.
///
/// As llhttp: CR LF before a request line is skipped; after a message that
/// closes the connection only CR LF may follow; after an upgrade (Upgrade
/// with Connection `upgrade`, or CONNECT) nothing more is read, and what
/// came after it goes on down the pipeline when the decoder leaves it (a
/// WebSocket's first frames).
struct RequestDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPServerRequestPart

    private enum Phase {
        case head
        case body
        case trailers
        case closed
        case upgraded
    }

    private var phase = Phase.head
    private var parser: RequestHeadParser
    private var body = BodyDecoder(framing: .chunked)
    private var keepAlive = true
    private var isUpgrade = false

    init(limits: RequestLimits) {
        parser = RequestHeadParser(
            limits: HeadLimits(maxCountedBytes: limits.maxHeaderListSize, maxFieldCount: RequestLimits.maxHeaderCount))
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch phase {
        case .head:
            return try decodeHead(context: context, buffer: &buffer)
        case .body:
            let step = buffer.withUnsafeReadableBytes { body.decode($0) }
            switch step {
            case .data(let start, let count):
                buffer.moveReaderIndex(forwardBy: start)
                context.fireChannelRead(wrapInboundOut(.body(buffer.readSlice(length: count)!)))
                return .continue
            case .needMore(let consumed):
                buffer.moveReaderIndex(forwardBy: consumed)
                return .needMoreData
            case .trailers(let consumed):
                buffer.moveReaderIndex(forwardBy: consumed)
                parser.resetForTrailers()
                phase = .trailers
                return .continue
            case .end(let consumed):
                buffer.moveReaderIndex(forwardBy: consumed)
                messageEnded(context: context, trailers: nil)
                return .continue
            case .failed(let error):
                throw Self.parserError(error)
            }
        case .trailers:
            let result = buffer.withUnsafeReadableBytes { parser.parse($0) }
            switch result {
            case .needMore:
                return .needMoreData
            case .failed(let error):
                throw Self.parserError(error)
            case .complete:
                let trailers = parser.head.fields.isEmpty ? nil : buffer.withUnsafeReadableBytes { headers($0) }
                buffer.moveReaderIndex(forwardBy: parser.head.length)
                messageEnded(context: context, trailers: trailers)
                return .continue
            }
        case .closed:
            // llhttp's "data after Connection: close": line ends are skipped.
            while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
                guard byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") else {
                    throw HTTPParserError.closedConnection
                }
                buffer.moveReaderIndex(forwardBy: 1)
            }
            return .needMoreData
        case .upgraded:
            return .needMoreData
        }
    }

    private mutating func decodeHead(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let result = buffer.withUnsafeReadableBytes { parser.parse($0) }
        switch result {
        case .needMore:
            return .needMoreData
        case .failed(let error):
            throw Self.parserError(error)
        case .complete:
            let head = buffer.withUnsafeReadableBytes { requestHead($0) }
            let parsed = parser.head
            buffer.moveReaderIndex(forwardBy: parsed.length)
            keepAlive = parsed.keepAlive
            isUpgrade = parsed.isUpgrade
            parser.reset()
            context.fireChannelRead(wrapInboundOut(.head(head)))
            if parsed.framing == .none {
                messageEnded(context: context, trailers: nil)
            } else {
                body = BodyDecoder(framing: parsed.framing)
                phase = .body
            }
            return .continue
        }
    }

    private mutating func messageEnded(context: ChannelHandlerContext, trailers: HTTPHeaders?) {
        phase = isUpgrade ? .upgraded : keepAlive ? .head : .closed
        parser.reset()
        context.fireChannelRead(wrapInboundOut(.end(trailers)))
    }

    /// At the end of input, a message under way is an error (llhttp's
    /// invalid EOF state). When the decoder leaves the pipeline (an
    /// upgrade), the bytes after the last message go on to what follows.
    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        if phase != .upgraded {
            while buffer.readableBytes > 0, case .continue = try decode(context: context, buffer: &buffer) {}
        }
        if seenEOF {
            if phase == .body || phase == .trailers || (phase == .head && parser.hasStarted) {
                throw HTTPParserError.invalidEOFState
            }
        } else if buffer.readableBytes > 0 {
            context.fireChannelRead(NIOAny(buffer.readSlice(length: buffer.readableBytes)!))
        }
        return .needMoreData
    }

    // MARK: Values for the handler

    private static let methods: [HTTPMethod] = [
        .GET, .HEAD, .POST, .PUT, .DELETE, .CONNECT, .OPTIONS, .TRACE, .PATCH, .COPY, .LOCK, .MKCOL, .MOVE,
        .PROPFIND, .PROPPATCH, .SEARCH, .UNLOCK, .BIND, .REBIND, .UNBIND, .ACL, .REPORT, .MKACTIVITY, .CHECKOUT,
        .MERGE, .MSEARCH, .NOTIFY, .SUBSCRIBE, .UNSUBSCRIBE, .PURGE, .MKCALENDAR, .LINK, .UNLINK,
        .RAW(value: "SOURCE"), .RAW(value: "QUERY"),
    ]

    private func requestHead(_ bytes: UnsafeRawBufferPointer) -> HTTPRequestHead {
        let parsed = parser.head
        let target = UnsafeRawBufferPointer(
            rebasing: bytes[parsed.targetStart..<parsed.targetStart + parsed.targetCount])
        return HTTPRequestHead(
            version: parsed.versionMinor == 0 ? .http1_0 : .http1_1, method: Self.methods[parsed.method],
            uri: String(decoding: target, as: UTF8.self), headers: headers(bytes))
    }

    private func headers(_ bytes: UnsafeRawBufferPointer) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(parser.head.fields.count)
        for field in parser.head.fields {
            let name = bytes[field.nameStart..<field.nameStart + field.nameCount]
            let value = bytes[field.valueStart..<field.valueStart + field.valueCount]
            headers.add(
                name: String(decoding: UnsafeRawBufferPointer(rebasing: name), as: UTF8.self),
                value: String(decoding: UnsafeRawBufferPointer(rebasing: value), as: UTF8.self))
        }
        return headers
    }

    /// NIO's error for each failure, so that the handler answers as it
    /// answers NIO's decoder.
    static func parserError(_ error: HeadError) -> HTTPParserError {
        switch error {
        case .invalidMethod: .invalidMethod
        case .invalidTarget: .invalidURL
        case .unsupportedVersion: .invalidVersion
        case .invalidConstant: .invalidConstant
        case .invalidHeaderToken, .obsoleteLineFolding: .invalidHeaderToken
        case .invalidHeaderValue: .invalidHeaderToken
        case .lineEnding: .lfExpected
        case .headTooLarge: .headerOverflow
        case .invalidContentLength: .invalidContentLength
        case .contentLengthWithTransferEncoding: .unexpectedContentLength
        case .invalidTransferEncoding: .unknown
        case .invalidChunk: .invalidChunkSize
        }
    }
}
