import NIOHTTP1
import XCTest

@testable import MicrodotLua

/// The parts of section 20 the nginx comparison (Tests/oracle/test_files_nginx.py)
/// does not reach: dates, ranges and entity-tag lists at their edges.
final class FileConditionsTests: XCTestCase {
    func testTheThreeDateFormsAndNothingElse() {
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
        ] {
            XCTAssertEqual(HTTPDate.parse(text.utf8), 784_111_777, text)
        }
        XCTAssertEqual(HTTPDate.parse("Thu, 29 Feb 2024 00:00:00 GMT".utf8), 1_709_164_800)
        XCTAssertEqual(HTTPDate.parse("Thu, 01 Jan 1970 00:00:00 GMT".utf8), 0)
        for text in [
            "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 30 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 nov 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ", "1994-11-06T08:49:37Z", "Sun Nov 6 08:49:37 1994",
        ] {
            XCTAssertNil(HTTPDate.parse(text.utf8), text)
        }
        XCTAssertEqual(HTTPDate.parse(HTTPDate.format(epochSeconds: 1_700_000_000).utf8), 1_700_000_000)
    }

    func testRangesAtTheirEdges() {
        func outcome(_ field: String, size: Int = 100) -> FileOutcome {
            ByteRange.outcome(Array(field.utf8), size: size)
        }
        XCTAssertEqual(outcome("bytes=0-0"), .partial(0...0))
        XCTAssertEqual(outcome("BYTES=5-"), .partial(5...99))
        XCTAssertEqual(outcome("bytes=-1"), .partial(99...99))
        XCTAssertEqual(outcome("bytes= 2-3 ,"), .partial(2...3), "empty list elements and spaces around them")
        XCTAssertEqual(outcome("bytes=99999999999999999999999-"), .unsatisfiable, "saturates, not wraps")
        XCTAssertEqual(outcome("bytes=0-99999999999999999999999"), .partial(0...99))
        XCTAssertEqual(outcome("bytes=100-"), .unsatisfiable)
        XCTAssertEqual(outcome("bytes=-0"), .unsatisfiable)
        for ignored in [
            "bytes=", "bytes=-", "bytes=a-b", "bytes=3-2", "bytes=1-2,3-4", "bytes=1 -2", "bits=1-2", "bytes",
        ] {
            XCTAssertEqual(outcome(ignored), .whole, ignored)
        }
    }

    func testEntityTagLists() {
        let tag = Array("\"65a1b2c3-1f4\"".utf8)
        let weakTag = Array("W/\"x\"".utf8)
        func match(_ field: String, _ etag: [UInt8]?, weak: Bool) -> Bool {
            EntityTags.match(Array(field.utf8), etag, weak: weak)
        }
        XCTAssertTrue(match("\"a\", \"65a1b2c3-1f4\"", tag, weak: false))
        XCTAssertTrue(match("W/\"65a1b2c3-1f4\"", tag, weak: true))
        XCTAssertFalse(match("W/\"65a1b2c3-1f4\"", tag, weak: false))
        XCTAssertFalse(match("\"x\"", weakTag, weak: false), "a weak tag never matches strongly")
        XCTAssertTrue(match("\"x\"", weakTag, weak: true))
        XCTAssertTrue(match("\"a,b\", \"x\"", weakTag, weak: true), "a comma inside quotes")
        XCTAssertTrue(match(" * ", nil, weak: false))
        XCTAssertFalse(match("\"65a1b2c3-1f4", tag, weak: true))
        XCTAssertFalse(match("\"a\"", nil, weak: true))
    }

    func testAnEmptyFileIgnoresRangesAndRepeatedDatesAreIgnored() {
        var headers = HTTPHeaders([("Range", "bytes=0-")])
        XCTAssertEqual(FileConditions(headers).outcome(validators: .init(), size: 0, isGet: true, ranges: true), .whole)
        headers = HTTPHeaders([
            ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ])
        let validators = FileValidators(etag: nil, lastModified: 0)
        XCTAssertEqual(
            FileConditions(headers).outcome(validators: validators, size: 5, isGet: true, ranges: true), .whole)
        headers = HTTPHeaders([("if-none-match", "\"a\""), ("If-None-Match", "\"b\"")])
        let tagged = FileValidators(etag: Array("\"b\"".utf8), lastModified: nil)
        XCTAssertEqual(
            FileConditions(headers).outcome(validators: tagged, size: 5, isGet: true, ranges: true), .notModified,
            "list fields on several lines are one list")
    }
}
