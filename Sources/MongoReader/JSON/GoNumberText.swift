/// Numbers as Go's `encoding/json` writes a float64, which is how Tinode sends every number that
/// came from a client (they are BSON doubles in the store): the shortest digits that read back to
/// the same value, plain decimal notation for magnitudes in [1e-6, 1e21), exponent notation
/// (`1e-7`, `1e+21`) outside it, and never a trailing `.0`. libbson's own JSON (`%.20g`, `6.0`)
/// would differ, which is why the reader formats numbers itself.
enum GoNumberText {
    /// nil for NaN and infinities, which JSON cannot carry (Go's encoder refuses them).
    static func format(_ value: Double) -> String? {
        guard value.isFinite else { return nil }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        let (digits, pointPosition) = shortestDigits(of: abs(value))
        let sign = value < 0 ? "-" : ""
        let magnitude = abs(value)
        if magnitude < 1e-6 || magnitude >= 1e21 {
            let exponent = pointPosition - 1
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            // Go pads the exponent to two digits and then removes the padding of negative ones.
            let exponentText = exponent < 0 ? "-\(-exponent)" : (exponent < 10 ? "+0\(exponent)" : "+\(exponent)")
            return sign + mantissa + "e" + exponentText
        }
        if pointPosition <= 0 {
            return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
        }
        if pointPosition >= digits.count {
            return sign + digits + String(repeating: "0", count: pointPosition - digits.count)
        }
        let split = digits.index(digits.startIndex, offsetBy: pointPosition)
        return sign + digits[..<split] + "." + digits[split...]
    }

    /// The shortest round-trip decimal digits of a positive finite value (Swift's `description`
    /// produces them, as Go's `strconv` does) without leading or trailing zeros, and where the
    /// decimal point goes: value = 0.DIGITS × 10^pointPosition.
    static func shortestDigits(of value: Double) -> (digits: String, pointPosition: Int) {
        let text = value.description  // "0.001", "123.45", "1e-07", "1.2345e+20"
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts[0]
        let exponent = parts.count > 1 ? Int(parts[1])! : 0
        var digits = String(mantissa.filter { $0 != "." })
        var pointPosition = mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count
        pointPosition += exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (digits, pointPosition)
    }
}
