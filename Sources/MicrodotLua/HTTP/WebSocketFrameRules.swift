import NIOCore
import NIOWebSocket

/// What RFC 6455 asks of a client's frames that NIO's decoder lets pass:
/// a masking key (section 5.1), no reserved bit set, as no extension was
/// negotiated (5.2), and a known opcode (5.2). A frame that breaks one is
/// a protocol error (`WebSocketHandler` closes with 1002); nothing after it
/// is passed on. Placed before the aggregator, which unmasks what it joins.
final class WebSocketFrameRules: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// The rule a frame broke.
    struct Violation: Error, CustomStringConvertible {
        let description: String
    }

    private static let knownOpcodes: [WebSocketOpcode] = [
        .continuation, .text, .binary, .connectionClose, .ping, .pong,
    ]
    private var broken = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !broken else { return }
        let frame = unwrapInboundIn(data)
        let violation: String?
        if frame.maskKey == nil {
            violation = "an unmasked frame from the client"
        } else if frame.rsv1 || frame.rsv2 || frame.rsv3 {
            violation = "a reserved bit is set"
        } else if !Self.knownOpcodes.contains(frame.opcode) {
            violation = "an unknown opcode"
        } else {
            violation = nil
        }
        if let violation {
            broken = true
            context.fireErrorCaught(Violation(description: violation))
            return
        }
        context.fireChannelRead(data)
    }
}
