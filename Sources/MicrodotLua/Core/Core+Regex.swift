/// Regular expressions for `<re:...>` segments and registered segment types,
/// compiled once per worker and referred to from Lua by number.
struct RegexTable {
    private var expressions: [Regex<AnyRegexOutput>] = []

    /// Compiles `pattern`; returns its number.
    mutating func compile(_ pattern: String) throws -> Int {
        let expression = try Regex(pattern)
        expressions.append(expression)
        return expressions.count
    }

    /// The capture groups of a whole match of expression `number`, or nil.
    func captures(_ number: Int, in subject: String) -> [Substring?]? {
        guard expressions.indices.contains(number - 1),
            let match = try? expressions[number - 1].wholeMatch(in: subject)
        else { return nil }
        return match.output.dropFirst().map { $0.substring }
    }
}
