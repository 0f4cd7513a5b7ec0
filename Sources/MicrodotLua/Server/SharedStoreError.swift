import NIOCore

/// The `--shared` Redis server (`Configuration.sharedURL`) did not answer
/// a PING at start-up: `MicrodotServer.start` throws this before any
/// worker loads, and the binary exits 1 with its description.
public struct SharedStoreError: Error, CustomStringConvertible {
    /// `host:port` of the server (the URL's password is never shown).
    public let server: String
    /// Why: `connection refused`, `connect timeout after 5 s`, an error reply.
    public let reason: String

    /// One line naming the flag, the server and the reason.
    public var description: String {
        "--shared: cannot reach Redis at \(server): \(reason) (is redis-server running? check the URL)"
    }

    /// The endpoint `url` names (its syntax checked by `validate()`), once
    /// the server answered PING; pools and timeouts as `redis.connect`'s
    /// defaults.
    static func reach(_ url: String) throws -> RedisEndpoint {
        let endpoint = try RedisURL(url).endpoint()
        let loop = RedisClients.blockingLoop
        let pool = RedisPool(endpoint: endpoint, loop: loop)
        var ping = ByteBufferAllocator().buffer(capacity: 16)
        RedisCommand.append(["PING"], into: &ping)
        let promise = loop.makePromise(of: String?.self)
        loop.execute { [ping] in
            pool.execute(ping, replies: 1) { result in
                switch result {
                case .success(let replies):
                    promise.succeed(replies.first.flatMap { $0.isError ? ($0.text ?? "error") : nil })
                case .failure(let failure):
                    promise.succeed(failure.description)
                }
                pool.shutDown()
            }
        }
        if let problem = try promise.futureResult.wait() {
            throw SharedStoreError(server: endpoint.server, reason: problem)
        }
        return endpoint
    }
}
