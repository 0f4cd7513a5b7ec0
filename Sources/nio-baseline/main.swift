// The benchmark's baselines: a bare hello-world server (GET /; 404 elsewhere) with no Lua, for
// scripts/bench to compare microdot-lua against in the same run.
//   nio-baseline PORT            SwiftNIO's stock HTTP/1 pipeline (`configureHTTPServerPipeline`)
//   nio-baseline PORT --floor    the floor: the request decoder microdot-lua uses and one handler
//                                that writes a prebuilt response (no response encoding at all)
import NIOCore
import NIOHTTP1
import NIOPosix

final class HelloHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let body = ByteBuffer(string: "Hello, World!")
    private var keepAlive = true
    private var found = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            found = head.uri == "/"
        case .body:
            break
        case .end:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; charset=UTF-8")
            headers.add(name: "Content-Length", value: found ? String(body.readableBytes) : "0")
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let status: HTTPResponseStatus = found ? .ok : .notFound
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil)
            if found { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            let keepAlive = self.keepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { [context] _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }
}

/// The floor: what a NIO server with microdot-lua's decoder costs when the
/// response is bytes made once (with a fixed Date).
final class FloorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private static func response(_ status: String, _ body: String, close: Bool) -> ByteBuffer {
        ByteBuffer(
            string: "HTTP/1.1 \(status)\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                + "Content-Length: \(body.utf8.count)\r\nDate: Tue, 01 Dec 2026 00:00:00 GMT\r\n"
                + (close ? "Connection: close\r\n" : "") + "\r\n" + body)
    }
    private static let responses = [
        [response("200 OK", "Hello, World!", close: false), response("200 OK", "Hello, World!", close: true)],
        [response("404 Not Found", "", close: false), response("404 Not Found", "", close: true)],
    ]
    private var keepAlive = true
    private var found = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            found = head.uri == "/"
        case .body:
            break
        case .end:
            let response = Self.responses[found ? 0 : 1][keepAlive ? 0 : 1]
            if keepAlive {
                context.writeAndFlush(wrapOutboundOut(response), promise: nil)
            } else {
                context.writeAndFlush(wrapOutboundOut(response)).assumeIsolated().whenComplete { [context] _ in
                    context.close(promise: nil)
                }
            }
        }
    }
}

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8081
let floor = CommandLine.arguments.contains("--floor")
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            if floor {
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
                try channel.pipeline.syncOperations.addHandler(FloorHandler())
            } else {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandler(HelloHandler())
            }
        }
    }
    .bind(host: "127.0.0.1", port: port).wait()
print("Serving on http://127.0.0.1:\(channel.localAddress?.port ?? port)")
try channel.closeFuture.wait()
