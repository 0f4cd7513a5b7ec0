import CompressNIO
import NIOCore
import NIOHTTP1
import XCTest

@testable import MicrodotLua

/// `--gzip`'s rules at their edges (Tests/oracle/test_gzip.py runs them
/// through the server), and the stream's bytes decompressed piece by piece.
final class GzipRulesTests: XCTestCase {
    func testQValues() {
        let cases: [(String, Int?)] = [
            ("0", 0), ("1", 1000), ("0.5", 500), ("0.001", 1), ("1.000", 1000), ("0.", 0), ("1.0", 1000),
            ("1.001", nil), ("2", nil), ("0.0001", nil), ("", nil), (".5", nil), ("0,5", nil), ("abc", nil),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(GzipRules.quality(ArraySlice(text.utf8)), expected, text)
        }
    }

    func testAcceptEncoding() {
        let cases: [([String], Bool)] = [
            ([], false), (["gzip"], true), (["GZip ; Q=0.2"], true), (["gzip;q=0"], false), (["*"], true),
            (["*;q=0"], false), (["*;q=0, gzip"], true), (["gzip;q=0, *"], false), (["identity;q=0"], false),
            (["br", "gzip"], true), (["gzip", "gzip;q=0"], false), ([" , gzip ,"], true), (["gzip;level=1"], true),
            (["x-gzip;q=0.1"], true), (["gzip;q=1.5"], false), (["compress, deflate"], false),
        ]
        for (values, expected) in cases {
            let headers = HTTPHeaders(values.map { ("Accept-Encoding", $0) })
            XCTAssertEqual(GzipRules.accepts(headers), expected, "\(values)")
        }
    }

    func testContentTypes() {
        let yes = [
            "text/html", "text/plain; charset=utf-8", "TEXT/CSS", "application/json", "Application/JSON ;charset=x",
            "application/javascript", "application/xml", "image/svg+xml", " text/csv ",
        ]
        let no = [
            "text/event-stream", "text/event-stream; charset=utf-8", "text/", "application/octet-stream",
            "image/png", "application/jsonp", "application/json-seq", "", "text",
        ]
        for type in yes { XCTAssertTrue(Array(type.utf8).withUnsafeBytes(GzipRules.compresses), type) }
        for type in no { XCTAssertFalse(Array(type.utf8).withUnsafeBytes(GzipRules.compresses), type) }
    }

    func testStatuses() {
        XCTAssertEqual(
            [100, 101, 200, 201, 204, 206, 301, 304, 404, 500].filter(GzipRules.allows), [200, 201, 301, 404, 500])
    }

    /// Each piece decompresses as soon as it is written; the pieces end as
    /// one gzip member that decompresses to them all.
    func testAStreamFlushesEachPieceAndEndsTheMember() throws {
        let stream = try GzipStream(chunked: false)
        let decompressor = CompressionAlgorithm.gzip().decompressor
        try decompressor.startStream()
        var all = ByteBuffer()
        let pieces = (1...5).map { String(repeating: "piece \($0) ", count: $0 * 300) }
        for piece in pieces {
            var out = ByteBuffer()
            try Array(piece.utf8).withUnsafeBytes { try stream.write($0, finish: false, into: &out) }
            all.writeImmutableBuffer(out)
            var plain = ByteBuffer()
            plain.reserveCapacity(piece.utf8.count + 1024)
            try decompressor.streamInflate(from: &out, to: &plain)
            XCTAssertEqual(String(buffer: plain), piece)
        }
        var end = ByteBuffer()
        try stream.write(UnsafeRawBufferPointer(start: nil, count: 0), finish: true, into: &end)
        XCTAssertGreaterThan(end.readableBytes, 0)
        all.writeImmutableBuffer(end)
        var whole = ByteBuffer()
        whole.reserveCapacity(pieces.joined().utf8.count + 1024)
        let again = CompressionAlgorithm.gzip().decompressor
        try again.startStream()
        try again.streamInflate(from: &all, to: &whole)
        XCTAssertEqual(String(buffer: whole), pieces.joined())
    }

    /// A body that does not compress (random bytes) still round-trips: the
    /// output grows past zlib's first guess.
    func testIncompressibleBodyRoundTrips() throws {
        var generator = SystemRandomNumberGenerator()
        let body = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var compressed = try body.withUnsafeBytes { try GzipStream.compress($0) }
        var plain = ByteBuffer()
        plain.reserveCapacity(body.count + 1024)
        let decompressor = CompressionAlgorithm.gzip().decompressor
        try decompressor.startStream()
        try decompressor.streamInflate(from: &compressed, to: &plain)
        XCTAssertEqual(Array(buffer: plain), body)
    }
}
