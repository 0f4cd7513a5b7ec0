import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest

@testable import MicrodotLua

/// RFC 9110 section 2.5: request lines in HTTP/1.2 to 1.9 reach the parser
/// as HTTP/1.1, and nothing else changes. Each sequence is cut at every
/// byte boundary (and at every pair of them, and into single bytes), since
/// the rewriter sees the bytes as the socket hands them over.
final class MinorVersionRewriterTests: XCTestCase {
    /// Pipelined requests, each given as (what the client sends, what the
    /// parser must get).
    private static let rewritten: [(String, [(sent: String, parsed: String)])] = [
        (
            "keep-alive GETs, an empty line between two, a version-like target",
            [
                ("GET /a HTTP/1.2\r\nHost: h\r\n\r\n", "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
                ("GET /b HTTP/1.1\r\nHost: h\r\n\r\n", "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
                (
                    "\r\nGET /c?v=HTTP/1.2 HTTP/1.9\r\nhost: h\r\nCookie: a=b\r\nUser-Agent: t\r\nTE: x\r\n\r\n",
                    "\r\nGET /c?v=HTTP/1.2 HTTP/1.1\r\nhost: h\r\nCookie: a=b\r\nUser-Agent: t\r\nTE: x\r\n\r\n"
                ),
                (
                    "GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                    "GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                ),
            ]
        ),
        (
            "a Content-Length body holding request lines",
            [
                (
                    "POST /a HTTP/1.1\r\nHost: h\r\ncontent-LENGTH: \t39 \r\nContent-Type: text/plain\r\n\r\n"
                        + "GET / HTTP/1.2\r\nHost: h\r\n\r\nX HTTP/1.3\r\n",
                    "POST /a HTTP/1.1\r\nHost: h\r\ncontent-LENGTH: \t39 \r\nContent-Type: text/plain\r\n\r\n"
                        + "GET / HTTP/1.2\r\nHost: h\r\n\r\nX HTTP/1.3\r\n"
                ),
                ("GET /b HTTP/1.3\r\nHost: h\r\n\r\n", "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
                (
                    "POST /c HTTP/1.4\r\nHost: h\r\nContent-Length: 0\r\nContent-Lengthy: 9\r\n\r\n",
                    "POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Lengthy: 9\r\n\r\n"
                ),
                ("GET /d HTTP/1.2\r\nHost: h\r\n\r\n", "GET /d HTTP/1.1\r\nHost: h\r\n\r\n"),
            ]
        ),
        (
            "chunked bodies with extensions and trailers, then HTTP/1.2",
            [
                (
                    "POST /c HTTP/1.2\r\nHost: h\r\nTransfer-Encoding: Chunked \r\n\r\n"
                        + "10;name=\"v;x\";q\r\nGET / HTTP/1.2\r\n\r\n1A\r\nGET /x HTTP/1.2\r\n\r\nabcdefg\r\n"
                        + "0;last=1\r\nX-Trailer: GET / HTTP/1.2\r\n\r\n",
                    "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked \r\n\r\n"
                        + "10;name=\"v;x\";q\r\nGET / HTTP/1.2\r\n\r\n1A\r\nGET /x HTTP/1.2\r\n\r\nabcdefg\r\n"
                        + "0;last=1\r\nX-Trailer: GET / HTTP/1.2\r\n\r\n"
                ),
                ("GET /d HTTP/1.2\r\nHost: h\r\n\r\n", "GET /d HTTP/1.1\r\nHost: h\r\n\r\n"),
                (
                    "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: h\r\n\r\n5\r\nhello\r\n000\r\n\r\n",
                    "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: h\r\n\r\n5\r\nhello\r\n000\r\n\r\n"
                ),
                ("OPTIONS * HTTP/1.8\r\nHost: h\r\n\r\n", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
            ]
        ),
    ]

    /// Requests after which nothing is rewritten: the rewriter cannot be
    /// sure of the framing (or the request is refused anyway), so a
    /// following `HTTP/1.2` request is left to the parser too.
    private static let givesUp: [(String, String)] = [
        ("a bare LF", "GET / HTTP/1.1\r\nHost: h\n\r\n"),
        ("a bare LF after the version", "GET / HTTP/1.2\n\r\n"),
        ("obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"),
        ("two Content-Lengths", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"),
        ("a Content-Length list", "POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nab"),
        ("an empty Content-Length", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"),
        ("a Content-Length not in digits", "POST / HTTP/1.1\r\nContent-Length: +2\r\n\r\nab"),
        ("space before the colon", "POST / HTTP/1.1\r\nContent-Length : 2\r\n\r\nab"),
        ("both framings", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("another coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
        (
            "chunked twice",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ),
        ("Upgrade", "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
        ("CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
        ("a chunk size that is not hex", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        (
            "a space after the chunk size",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"
        ),
        ("chunk data too long", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n"),
        ("obs-fold in the trailers", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n"),
    ]

    /// Request lines that are not a higher minor version: unchanged, and the
    /// rewriter goes on.
    private static let untouched = [
        "GET / HTTP/1.10\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.2x\r\nHost: h\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1 HTTP/1.2 \r\nHost: h\r\n\r\n",
        "GET /HTTP/1.2\r\nHost: h\r\n\r\n",
        "GET / http/1.2\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    ]

    // MARK: The bytes the parser gets

    func testHigherMinorVersionsAreRewrittenAtEveryCut() {
        for (name, requests) in Self.rewritten {
            let sent = Array(requests.map(\.sent).joined().utf8)
            let parsed = Array(requests.map(\.parsed).joined().utf8)
            forEveryCut(of: sent) { chunks, cut in
                let (output, passing) = Self.rewrite(chunks)
                XCTAssertEqual(
                    String(decoding: output, as: UTF8.self), String(decoding: parsed, as: UTF8.self),
                    "\(name), cut at \(cut)")
                XCTAssertFalse(passing, "\(name), cut at \(cut)")
            }
        }
    }

    func testAfterWhatItCannotFollowNothingIsRewritten() {
        let next = "GET /next HTTP/1.2\r\nHost: h\r\n\r\n"
        for (name, request) in Self.givesUp {
            let sent = Array((request + next).utf8)
            forEveryCut(of: sent) { chunks, cut in
                let (output, passing) = Self.rewrite(chunks)
                XCTAssertEqual(output, sent, "\(name), cut at \(cut)")
                XCTAssertTrue(passing, "\(name), cut at \(cut)")
            }
        }
    }

    func testOtherVersionsAreLeftAlone() {
        for request in Self.untouched {
            let sent = Array((request + "GET /next HTTP/1.2\r\n\r\n").utf8)
            let parsed = Array((request + "GET /next HTTP/1.1\r\n\r\n").utf8)
            forEveryCut(of: sent) { chunks, cut in
                XCTAssertEqual(Self.rewrite(chunks).output, parsed, "\(request), cut at \(cut)")
            }
        }
    }

    /// At most the digit and its CR wait for the next read; at the end of
    /// input the parser gets them as they came.
    func testOnlyTheDigitAndItsCRAreHeldBack() {
        var rewriter = MinorVersionRewriter()
        var buffer = ByteBuffer(string: "GET /a HTTP/1.2")
        XCTAssertEqual(rewriter.process(&buffer, from: 0), 1)
        buffer.moveReaderIndex(forwardBy: 10)  // what the parser took
        buffer.writeString("\r")
        XCTAssertEqual(rewriter.process(&buffer, from: 5), 2, "the CR joins the digit")
        buffer.writeString("\nHost: h\r\n")
        XCTAssertEqual(rewriter.process(&buffer, from: 6), 0)
        XCTAssertEqual(String(buffer: buffer), "P/1.1\r\nHost: h\r\n", "the held digit is rewritten where it is")

        var body = MinorVersionRewriter()
        var head = ByteBuffer(string: "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nX HTTP/1.2")
        XCTAssertEqual(body.process(&head, from: 0), 0, "a body is never held")

        let (output, _) = Self.rewrite([Array("GET / HTTP/1.3".utf8)])
        XCTAssertEqual(String(decoding: output, as: UTF8.self), "GET / HTTP/1.3")
    }

    func testAtTheEndOfInputTheParserGetsWhatWasHeldBack() throws {
        for cutShort in ["GET /x HTTP/1.2", "GET /x HTTP/1.2\r"] {
            let sent = Array(cutShort.utf8)
            let expected = try Self.parse([sent], rewriting: false)
            XCTAssertEqual(expected, ["error invalid HTTP version"])
            try forEveryCut(of: sent, pairs: false) { chunks, cut in
                XCTAssertEqual(try Self.parse(chunks, rewriting: true), expected, "\(cutShort), cut at \(cut)")
            }
        }
    }

    // MARK: With NIO's parser

    /// What NIO's decoder reads behind the handler, at every cut, is what
    /// it reads from the bytes it must get: each request in HTTP/1.1 (or
    /// 1.0 when sent so) with its body; and where the rewriter gives up or
    /// leaves a version alone, the same requests and the same error as
    /// without it.
    func testTheParserReadsWhatItMustAtEveryCut() throws {
        let next = (sent: "GET /next HTTP/1.2\r\nHost: h\r\n\r\n", parsed: "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        var cases = Self.rewritten.map { ($0.0, $0.1.map(\.sent).joined(), $0.1.map(\.parsed).joined()) }
        cases += Self.givesUp.map { ($0.0, $0.1 + next.sent, $0.1 + next.sent) }
        cases += Self.untouched.map { ($0, $0 + next.sent, $0 + next.parsed) }
        for (name, sent, parsed) in cases {
            let expected = try Self.parse([Array(parsed.utf8)], rewriting: false)
            try forEveryCut(of: Array(sent.utf8), pairs: false) { chunks, cut in
                XCTAssertEqual(try Self.parse(chunks, rewriting: true), expected, "\(name), cut at \(cut)")
            }
        }
        for (name, requests) in Self.rewritten {
            let expected = try Self.parse([Array(requests.map(\.parsed).joined().utf8)], rewriting: false)
            XCTAssertFalse(expected.contains { $0.hasPrefix("error") }, name)
            let heads = expected.filter { $0.hasSuffix(" HTTP/1.1") || $0.hasSuffix(" HTTP/1.0") }
            XCTAssertEqual(heads.count, requests.count, name)
        }
        let served = try Self.parse([Array(("GET / HTTP/1.1\r\n\r\n" + next.sent).utf8)], rewriting: true)
        XCTAssertEqual(served, ["GET / HTTP/1.1", "end", "GET /next HTTP/1.1", "end"])
    }

    // MARK: Helpers

    /// `body` gets `bytes` whole, cut at each boundary, at each pair of
    /// boundaries (when `pairs`), and one byte at a time.
    private func forEveryCut(
        of bytes: [UInt8], pairs: Bool = true, _ body: ([[UInt8]], String) throws -> Void
    ) rethrows {
        try body([bytes], "nowhere")
        for first in 1..<bytes.count {
            try body([Array(bytes[..<first]), Array(bytes[first...])], "\(first)")
            guard pairs else { continue }
            for second in (first + 1)..<max(first + 1, bytes.count) {
                try body(
                    [Array(bytes[..<first]), Array(bytes[first..<second]), Array(bytes[second...])],
                    "\(first) and \(second)")
            }
        }
        try body(bytes.map { [$0] }, "every byte")
    }

    /// The bytes that reach the parser when `chunks` arrive one read each,
    /// as `MinorVersionRequestDecoder` shows them to it (here the parser
    /// takes all it is shown); and whether the rewriter gave up.
    private static func rewrite(_ chunks: [[UInt8]]) -> (output: [UInt8], passing: Bool) {
        var rewriter = MinorVersionRewriter()
        var buffer = ByteBuffer()
        var output: [UInt8] = []
        for chunk in chunks {
            let scanned = buffer.readableBytes
            buffer.writeBytes(chunk)
            let holdBack = rewriter.isPassingThrough ? 0 : rewriter.process(&buffer, from: scanned)
            output += buffer.readBytes(length: buffer.readableBytes - holdBack)!
        }
        let passing = rewriter.isPassingThrough
        output += buffer.readableBytesView
        return (output, passing)
    }

    /// The request parts NIO's decoder reads from `chunks`, behind the
    /// handler or not: `METHOD URI VERSION`, `body ...` (joined), `end`, and
    /// the first error.
    private static func parse(_ chunks: [[UInt8]], rewriting: Bool) throws -> [String] {
        let channel = EmbeddedChannel()
        if rewriting {
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(MinorVersionRequestDecoder(HTTPRequestDecoder())))
        } else {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
        }
        var parts: [String] = []
        func read() throws {
            while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
                switch part {
                case .head(let head):
                    parts.append("\(head.method.rawValue) \(head.uri) \(head.version)")
                case .body(let body):
                    let text = String(buffer: body)
                    if let last = parts.last, last.hasPrefix("body ") {
                        parts[parts.count - 1] = last + text
                    } else {
                        parts.append("body " + text)
                    }
                case .end:
                    parts.append("end")
                }
            }
        }
        for chunk in chunks {
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch {
                try read()  // the parts read before it
                parts.append("error \(error)")
                _ = try? channel.finish()
                return parts
            }
            try read()
        }
        // The end of input: the parser reads what was held back.
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        try read()
        do {
            try channel.throwIfErrorCaught()
        } catch {
            parts.append("error \(error)")
        }
        _ = try? channel.finish()
        return parts
    }
}
