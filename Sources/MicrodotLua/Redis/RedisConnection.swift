import NIOCore

/// Why a Redis call failed short of a reply: the text after
/// `redis host:port: ` in the RedisError Lua gets.
struct RedisFailure: Error, CustomStringConvertible {
    let description: String
}

/// One connection to a Redis server: commands written, their replies read
/// back in order by hiredis's reader. A connection serves one caller at a
/// time (the pool hands it out whole), so `pending` holds one batch, but
/// the queue keeps the order rule explicit. In subscriber mode every reply
/// goes to `onPush` instead.
///
/// `@unchecked Sendable`: only touched on its channel's event loop.
final class RedisConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Batch {
        var expected: Int
        var replies: [RedisReply]
        let completion: (Result<[RedisReply], RedisFailure>) -> Void
    }

    private let reader = RedisReader()
    private var pending = CircularBuffer<Batch>()
    private(set) var channel: Channel?
    /// Set once the connection failed or closed: it goes back to no pool.
    private(set) var isBroken = false
    /// Subscriber mode: every reply, in order.
    var onPush: ((RedisReply) -> Void)?
    /// Called once when the connection breaks or closes, with why.
    var onClose: ((RedisFailure) -> Void)?

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
    }

    /// Writes `command` (one or more RESP commands) and calls `completion`
    /// with the `replies` replies that answer it, or the failure.
    func send(
        _ command: ByteBuffer, replies: Int, completion: @escaping (Result<[RedisReply], RedisFailure>) -> Void
    ) {
        guard let channel, !isBroken else {
            completion(.failure(RedisFailure(description: "connection closed")))
            return
        }
        pending.append(Batch(expected: replies, replies: [], completion: completion))
        channel.writeAndFlush(command, promise: nil)
    }

    /// Writes `command` without waiting for anything (subscriber mode).
    func write(_ command: ByteBuffer) {
        channel?.writeAndFlush(command, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do {
            try reader.feed(buffer)
            while let reply = try reader.next() {
                if let onPush {
                    onPush(reply)
                    continue
                }
                guard !pending.isEmpty else {
                    throw RedisFailure(description: "a reply nothing asked for")
                }
                pending[pending.startIndex].replies.append(reply)
                if pending[pending.startIndex].replies.count == pending[pending.startIndex].expected {
                    let batch = pending.removeFirst()
                    batch.completion(.success(batch.replies))
                }
            }
        } catch {
            fail(RedisFailure(description: "protocol error: \(error)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(RedisFailure(description: "connection closed"))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(RedisFailure(description: RedisPool.describe(error)))
        context.close(promise: nil)
    }

    /// Marks the connection broken and fails whatever waits on it.
    private func fail(_ failure: RedisFailure) {
        guard !isBroken else { return }
        isBroken = true
        while let batch = pending.popFirst() {
            batch.completion(.failure(failure))
        }
        let onClose = self.onClose
        self.onClose = nil
        onClose?(failure)
    }

    /// Drops the connection (a timeout, a pool shut down): nothing waiting
    /// gets a reply any more.
    func close(_ failure: RedisFailure = RedisFailure(description: "connection closed")) {
        fail(failure)
        channel?.close(promise: nil)
    }
}
