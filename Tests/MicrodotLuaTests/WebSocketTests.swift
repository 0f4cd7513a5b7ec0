import NIOCore
import NIOEmbedded
import NIOWebSocket
import XCTest

@testable import MicrodotLua

/// The parts of the WebSocket support that need no socket: the accept key,
/// the frame rules and the close codes. The protocol end to end is tested
/// with real clients in Tests/oracle/test_websocket.py, and in process by
/// Tests/LuaSpecs/websocket_spec.lua.
final class WebSocketTests: XCTestCase {
    func testTheAcceptKeyOfRFC6455Section1_3() {
        XCTAssertEqual(
            CoreWebSocket.acceptValue(for: Array("dGhlIHNhbXBsZSBub25jZQ==".utf8)), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        // 20 bytes of digest: 27 characters and one "=".
        XCTAssertTrue(CoreWebSocket.acceptValue(for: Array("x".utf8)).hasSuffix("="))
    }

    private func frame(masked: Bool, rsv1: Bool = false, opcode: WebSocketOpcode = .text) -> WebSocketFrame {
        WebSocketFrame(
            fin: true, rsv1: rsv1, opcode: opcode, maskKey: masked ? WebSocketMaskingKey([1, 2, 3, 4])! : nil,
            data: ByteBuffer(string: "hi"))
    }

    private final class Errors: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        var seen: [Error] = []
        func errorCaught(context: ChannelHandlerContext, error: Error) { seen.append(error) }
    }

    func testFrameRulesPassMaskedFramesAndRefuseTheRest() throws {
        for (bad, expected) in [
            (frame(masked: false), "an unmasked frame from the client"),
            (frame(masked: true, rsv1: true), "a reserved bit is set"),
            (frame(masked: true, opcode: WebSocketOpcode(encodedWebSocketOpcode: 3)!), "an unknown opcode"),
        ] {
            let errors = Errors()
            let channel = EmbeddedChannel(handlers: [WebSocketFrameRules(), errors])
            try channel.writeInbound(frame(masked: true))
            // A frame that keeps the rules passes as it came.
            XCTAssertEqual(try channel.readInbound(as: WebSocketFrame.self)?.data, ByteBuffer(string: "hi"))
            try channel.writeInbound(bad)
            XCTAssertNil(try channel.readInbound(as: WebSocketFrame.self))
            XCTAssertEqual(errors.seen.map { "\($0)" }, [expected])
            // Nothing passes after a violation.
            try channel.writeInbound(frame(masked: true))
            XCTAssertNil(try channel.readInbound(as: WebSocketFrame.self))
            _ = try channel.finish()
        }
    }

    func testCloseCodesAClientMaySend() {
        for code in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
            XCTAssertTrue(WebSocketHandler.isValidCloseCode(code), "\(code)")
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            XCTAssertFalse(WebSocketHandler.isValidCloseCode(code), "\(code)")
        }
    }
}
