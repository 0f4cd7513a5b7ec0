/// The decimal digits of `value`, formatted on the stack for `body`: numbers
/// go into response heads and JSON without making a String.
func withDecimalDigits<T>(of value: UInt64, _ body: (UnsafeRawBufferPointer) -> T) -> T {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: UInt64.max has 20 digits
    return withUnsafeMutableBytes(of: &digits) { scratch in
        var rest = value
        var start = scratch.count
        repeat {
            start -= 1
            scratch[start] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        } while rest > 0
        return body(UnsafeRawBufferPointer(rebasing: scratch[start...]))
    }
}
