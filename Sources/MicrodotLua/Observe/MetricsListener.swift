import NIOCore
import NIOHTTP1
import NIOPosix

/// The `--metrics` listener: its own socket, apart from the app's, that
/// answers `GET` or `HEAD /metrics` with the Prometheus text format 0.0.4
/// and anything else with 404 (405 for another method on `/metrics`).
enum MetricsListener {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Binds `host:port` on `group`; `scrape` makes the body.
    static func bind(
        host: String, port: Int, group: EventLoopGroup,
        scrape: @escaping @Sendable (EventLoop) -> EventLoopFuture<[UInt8]>
    ) throws -> Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHandler(scrape: scrape))
                }
            }
            .bind(host: host, port: port).wait()
    }
}

/// Answers each request of a metrics connection in turn.
private final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let scrape: @Sendable (EventLoop) -> EventLoopFuture<[UInt8]>
    private var head: HTTPRequestHead?

    init(scrape: @escaping @Sendable (EventLoop) -> EventLoopFuture<[UInt8]>) {
        self.scrape = scrape
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head = head.take() else { return }
            answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let isHead = head.method == .HEAD
        guard path == "/metrics" else {
            send(.notFound, type: "text/plain; charset=utf-8", body: Array("Not found\n".utf8), head, context)
            return
        }
        guard head.method == .GET || isHead else {
            send(.methodNotAllowed, type: "text/plain; charset=utf-8", body: [], head, context, allow: true)
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        scrape(context.eventLoop).whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(let body):
                handler.send(.ok, type: MetricsListener.contentType, body: body, head, context)
            case .failure:
                handler.send(.internalServerError, type: "text/plain; charset=utf-8", body: [], head, context)
            }
        }
    }

    private func send(
        _ status: HTTPResponseStatus, type: String, body: [UInt8], _ request: HTTPRequestHead,
        _ context: ChannelHandlerContext, allow: Bool = false
    ) {
        var headers = HTTPHeaders([("Content-Type", type), ("Content-Length", String(body.count))])
        if allow { headers.add(name: "Allow", value: "GET, HEAD") }
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil)
        if request.method != .HEAD, !body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let keepAlive = request.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
