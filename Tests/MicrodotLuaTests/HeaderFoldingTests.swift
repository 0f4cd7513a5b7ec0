import XCTest

@testable import MicrodotLua

/// A request header sent more than once reaches the app as one value.
final class HeaderFoldingTests: XCTestCase {
    func testRepeatedHeadersJoinWithAComma() {
        XCTAssertEqual(
            HeaderFolding.joined("text/html", "application/json", name: "Accept"), "text/html, application/json")
    }

    func testRepeatedCookieHeadersJoinWithASemicolonWhateverTheirCase() {
        XCTAssertEqual(HeaderFolding.joined("x=1", "y=2", name: "Cookie"), "x=1; y=2")
        XCTAssertEqual(HeaderFolding.joined("x=1", "y=2", name: "cOOKIE"), "x=1; y=2")
    }

    func testOnlyTheNameCookieItselfTakesTheSemicolon() {
        XCTAssertEqual(HeaderFolding.joined("x", "y", name: "Cookies"), "x, y")
        XCTAssertEqual(HeaderFolding.joined("x", "y", name: "Cookie2"), "x, y")
    }
}
