import NIOCore
import NIOHTTP1
import NIOWebSocket

extension HTTPConnectionHandler: RemovableChannelHandler {}

extension HTTPConnectionHandler {
    /// RFC 6455 section 4.2.2: the 101 answer (the exact bytes Microdot
    /// 2.7's `WebSocket.handshake` writes), then HTTP's handlers (the
    /// parser, this one) leave the pipeline for NIO's frame decoder and
    /// encoder, `WebSocketFrameRules`, NIO's aggregator and a
    /// `WebSocketHandler`. The parser stopped at the upgrade request; what
    /// the client sent after it goes to the frame decoder when the parser
    /// leaves. Nil (nothing sent) when this is not the connection's last
    /// request or the channel is gone.
    func upgradeToWebSocket(accept: String, maxMessageLength: Int, session: WebSocketSession) -> WebSocketTransport? {
        guard let context, context.channel.isActive else { return nil }
        let pipeline = context.pipeline.syncOperations
        guard let parser = try? pipeline.handler(type: ByteToMessageHandler<MinorVersionRequestDecoder>.self) else {
            return nil
        }
        var head = context.channel.allocator.buffer(capacity: 128)
        head.writeString(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: \(accept)\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        // One frame is at most the message limit (and what a frame's length can say).
        let limit = maxMessageLength > 0 ? min(maxMessageLength, Int(UInt32.max)) : Int(UInt32.max)
        let handler = WebSocketHandler(loop: loop, session: session)
        do {
            try pipeline.addHandlers(
                [
                    ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: limit)),
                    WebSocketFrameEncoder(),
                    WebSocketFrameRules(),
                    NIOWebSocketFrameAggregator(
                        minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1 << 16,
                        maxAccumulatedFrameSize: limit),
                    handler,
                ],
                position: .after(parser))
            pipeline.removeHandler(context: context, promise: nil)
            pipeline.removeHandler(parser, promise: nil)
        } catch {
            context.close(promise: nil)
            return nil
        }
        handler.start()
        return handler
    }
}
