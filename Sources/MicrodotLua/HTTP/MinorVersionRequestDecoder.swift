import NIOCore
import NIOHTTP1

/// NIO's `HTTPRequestDecoder`, reading requests in a higher HTTP/1 minor
/// version as HTTP/1.1 (RFC 9110 section 2.5; see `MinorVersionRewriter`).
/// The rewriter works in the decoder's own buffer, just before the parser
/// reads it: no handler more in the pipeline, no bytes copied.
struct MinorVersionRequestDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPServerRequestPart

    private let parser: HTTPRequestDecoder
    private var rewriter = MinorVersionRewriter()
    /// Bytes at the front of the buffer that were scanned and that the
    /// parser has not consumed (it keeps the one it is reading, and the
    /// version digit may be held back).
    private var scanned = 0

    init(_ parser: HTTPRequestDecoder) {
        self.parser = parser
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let holdBack = rewriter.isPassingThrough ? 0 : rewriter.process(&buffer, from: scanned)
        let readable = buffer.readableBytes
        let state: DecodingState
        if holdBack == 0 {
            state = try parser.decode(context: context, buffer: &buffer)
        } else if readable > holdBack {
            var shown = buffer.getSlice(at: buffer.readerIndex, length: readable - holdBack)!
            state = try parser.decode(context: context, buffer: &shown)
            buffer.moveReaderIndex(forwardBy: shown.readerIndex)
        } else {
            state = .needMoreData
        }
        scanned = buffer.readableBytes
        return state
    }

    /// At the end of input, nothing more can say what a held-back digit
    /// is: the parser gets it as it came.
    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        if !rewriter.isPassingThrough { _ = rewriter.process(&buffer, from: scanned) }
        defer { scanned = buffer.readableBytes }
        return try parser.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    mutating func decoderAdded(context: ChannelHandlerContext) {
        parser.decoderAdded(context: context)
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) {
        parser.decoderRemoved(context: context)
    }
}
