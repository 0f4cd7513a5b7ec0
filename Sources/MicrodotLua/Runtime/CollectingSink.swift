import NIOCore
import NIOPosix

/// A connection that keeps what is written to it: how the test clients
/// (Swift's `MicrodotTestClient`, Lua's `microdot.test_client`) run a
/// request through the server's own `RequestTask`.
final class CollectingSink: ResponseSink {
    /// Called once the request is done, with the bytes written and, when an
    /// error cut the response short after its head, the error.
    private let onFinish: (_ bytes: [UInt8], _ failure: String?) -> Void
    private var output: [UInt8] = []
    private var failure: String?

    init(onFinish: @escaping (_ bytes: [UInt8], _ failure: String?) -> Void) {
        self.onFinish = onFinish
    }

    var isWritable: Bool { true }
    var allocator: ByteBufferAllocator { ByteBufferAllocator() }
    var clientAddress: (host: String, port: Int) { ("127.0.0.1", 0) }
    var isDraining: Bool { false }

    func write(_ data: IOData, flush: Bool, completion: ((Result<Void, Error>) -> Void)?) {
        switch data {
        case .byteBuffer(let buffer):
            output.append(contentsOf: buffer.readableBytesView)
        case .fileRegion(let region):
            do {
                try region.fileHandle.withUnsafeFileDescriptor { descriptor in
                    var chunk = [UInt8](repeating: 0, count: 65536)
                    var offset = region.readerIndex
                    while offset < region.endIndex {
                        let wanted = min(chunk.count, region.endIndex - offset)
                        let count = chunk.withUnsafeMutableBytes {
                            pread(descriptor, $0.baseAddress, wanted, off_t(offset))
                        }
                        guard count > 0 else { break }
                        output.append(contentsOf: chunk[0..<count])
                        offset += count
                    }
                }
            } catch {
                completion?(.failure(error))
                return
            }
        }
        completion?(.success(()))
    }

    func flush() {}

    func responseFailed(_ message: String) {
        failure = message
    }

    func requestFinished(keepAlive: Bool) {
        onFinish(output, failure)
    }
}
