import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest

@testable import MicrodotLua

/// `RequestDecoder` against NIO's `HTTPRequestDecoder` on the corpus in
/// Tests/ParserCorpus: for each `NAME.http`, the parts both read (method,
/// target, version, keep-alive, fields, body, trailers, and the status an
/// error gets) must be the same, whole and cut at every byte boundary (the
/// socket hands bytes over in any pieces). `NAME.nio` holds what NIO must
/// be given for the same parts (a higher minor version written as 1.1);
/// `NAME.ours` holds our parts where we differ on purpose, each difference
/// explained in Tests/ParserCorpus/README.md, and NIO must then really
/// differ.
final class RequestDecoderDifferentialTests: XCTestCase {
    private static let corpus = TestPaths.packageRoot + "/Tests/ParserCorpus/"

    func testTheCorpusParsesAsNIOParsesIt() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus)
            .filter { $0.hasSuffix(".http") }.map { String($0.dropLast(5)) }.sorted()
        XCTAssertGreaterThan(names.count, 80, "the corpus is in \(Self.corpus)")
        var deviations = 0
        for name in names {
            let sent = try Self.read(name + ".http")!
            let nio = try Self.parse([Array(Self.read(name + ".nio") ?? sent)], ours: false)
            var expected = nio
            if let ours = try Self.read(name + ".ours") {
                expected = String(decoding: ours, as: UTF8.self).split(separator: "\n").map(String.init)
                XCTAssertNotEqual(nio, expected, "\(name): NIO reads it as we do; drop \(name).ours")
                deviations += 1
            }
            try forEveryCut(of: Array(sent)) { chunks, cut in
                XCTAssertEqual(try Self.parse(chunks, ours: true), expected, "\(name), cut at \(cut)")
            }
        }
        XCTAssertLessThan(deviations, 10, "most of the corpus reads as NIO reads it")
    }

    /// A head over the limits is refused however its bytes arrive.
    func testTheLimitsHoldAtEveryCut() throws {
        let fields = (0..<101).map { "X-H\($0): v\r\n" }.joined()
        let request = Array(("GET / HTTP/1.1\r\n" + fields + "\r\n").utf8)
        try forEveryCut(of: request) { chunks, cut in
            XCTAssertEqual(try Self.parse(chunks, ours: true), ["error 431"], "cut at \(cut)")
        }
    }

    // MARK: Helpers

    private static func read(_ file: String) throws -> Data? {
        let path = corpus + file
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// `body` gets `bytes` whole, cut at each boundary, and one byte at a
    /// time; a large input in pieces of a few sizes instead.
    private func forEveryCut(of bytes: [UInt8], _ body: ([[UInt8]], String) throws -> Void) rethrows {
        try body([bytes], "nowhere")
        guard bytes.count <= 2048 else {
            for size in [1000, 4096, 16384] {
                let chunks = stride(from: 0, to: bytes.count, by: size).map {
                    Array(bytes[$0..<min($0 + size, bytes.count)])
                }
                try body(chunks, "every \(size) bytes")
            }
            return
        }
        for first in 1..<max(1, bytes.count) {
            try body([Array(bytes[..<first]), Array(bytes[first...])], "\(first)")
        }
        try body(bytes.map { [$0] }, "every byte")
    }

    /// The parts a decoder reads from `chunks`, one read each, then the end
    /// of input: `METHOD URI VERSION keep-alive|close`, a `name: value` line
    /// per field, `body ...` (joined), `end` with trailers, bytes left after
    /// an upgrade, and the first error as the status the connection answers.
    private static func parse(_ chunks: [[UInt8]], ours: Bool) throws -> [String] {
        let channel = EmbeddedChannel()
        if ours {
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(RequestDecoder(limits: RequestLimits())), name: "decoder")
        } else {
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = RequestLimits().maxHeaderListSize
            limits.maxHeaderListSize = RequestLimits().maxHeaderListSize
            limits.maxHeaderFieldCount = RequestLimits.maxHeaderCount
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(
                    HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits)),
                name: "decoder")
        }
        var parts: [String] = []
        func read() throws {
            while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
                switch part {
                case .head(let head):
                    let keepAlive = head.isKeepAlive ? "keep-alive" : "close"
                    parts.append("\(head.method.rawValue) \(head.uri) \(head.version) \(keepAlive)")
                    parts += head.headers.map { "\($0.name): \($0.value)" }
                case .body(let body):
                    let text = String(buffer: body)
                    if let last = parts.last, last.hasPrefix("body ") {
                        parts[parts.count - 1] = last + text
                    } else {
                        parts.append("body " + text)
                    }
                case .end(let trailers):
                    parts.append(
                        "end"
                            + (trailers.map { " " + $0.map { "\($0.name): \($0.value)" }.joined(separator: ", ") } ?? "")
                    )
                }
            }
        }
        func failed(_ error: Error) {
            switch error as? HTTPParserError {
            case .headerOverflow: parts.append("error 431")
            case .invalidVersion: parts.append("error 505")
            default: parts.append("error 400")
            }
        }
        for chunk in chunks {
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch {
                try read()
                failed(error)
                _ = try? channel.finish()
                return parts
            }
            try read()
        }
        // After an upgrade, what came after it goes on when the decoder leaves.
        if parts.contains(where: { $0.lowercased().hasPrefix("upgrade:") || $0.hasPrefix("CONNECT ") }) {
            try channel.pipeline.syncOperations.removeHandler(name: "decoder").wait()
            while let left = try channel.readInbound(as: ByteBuffer.self) {
                parts.append("left " + left.readableBytesView.map { String($0, radix: 16) }.joined(separator: " "))
            }
            _ = try? channel.finish()
            return parts
        }
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        try read()
        do {
            try channel.throwIfErrorCaught()
        } catch {
            failed(error)
        }
        _ = try? channel.finish()
        return parts
    }
}
