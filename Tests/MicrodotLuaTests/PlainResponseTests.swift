import NIOCore
import XCTest

@testable import MicrodotLua

/// The one writer of plain responses: the Lua fast path and the server's own
/// errors.
final class PlainResponseTests: XCTestCase {
    private let date = Array("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".utf8)

    private func written(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBuffer()
        write(&buffer)
        return String(buffer: buffer)
    }

    func testAnErrorResponseIsPlainTextWithItsLengthAndDate() {
        let text = written {
            PlainResponse.write(.uriTooLong, sendsBody: true, connection: .close, date: date, into: &$0)
        }
        XCTAssertEqual(
            text,
            "HTTP/1.1 414 URI Too Long\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                + "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 12\r\nConnection: close\r\n\r\nURI too long")
    }

    func testAHeadRequestGetsTheLengthButNotTheBody() {
        let text = written {
            PlainResponse.write(.internalServerError, sendsBody: false, connection: .none, date: date, into: &$0)
        }
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"))
        XCTAssertTrue(text.hasSuffix("Content-Length: 21\r\n\r\n"), text)
    }

    func testTheConnectionHeaderIsWrittenOnlyWhenTheDefaultDoesNotHold() {
        XCTAssertEqual(ConnectionHeader(keepAlive: true, isHTTP10: false), .none)
        XCTAssertEqual(ConnectionHeader(keepAlive: true, isHTTP10: true), .keepAlive)
        XCTAssertEqual(ConnectionHeader(keepAlive: false, isHTTP10: false), .close)
        XCTAssertEqual(ConnectionHeader(keepAlive: false, isHTTP10: true), .close)
    }

    func testAPlainOKResponseHasTheAppsContentType() {
        let type = Array("text/html".utf8)
        let body = Array("<p>hi</p>".utf8)
        let text = written { buffer in
            type.withUnsafeBytes { type in
                body.withUnsafeBytes { body in
                    PlainResponse.write(
                        status: 200, contentType: type, body: body, sendsBody: true, connection: .keepAlive,
                        date: date, into: &buffer)
                }
            }
        }
        XCTAssertEqual(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                + "Content-Length: 9\r\nConnection: keep-alive\r\n\r\n<p>hi</p>")
    }
}
