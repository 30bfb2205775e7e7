/// Go's duration text (`time.ParseDuration`), which a REST-auth answer may use for `rec.lifetime`
/// ("3600s", "1h30m", "1.5h"): a sign, then one or more decimal numbers each with a unit. Tinode
/// refuses anything else (a unitless "3600" among them) and so does the double, with 500.
enum GoDuration {
    private static let units: [String: UInt64] = [
        "ns": 1, "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
        "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]

    /// Nanoseconds; nil when Go would return an error (bad syntax, unknown unit, out of range).
    static func nanoseconds(_ text: String) -> Int64? {
        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        var total: UInt64 = 0
        while !rest.isEmpty {
            guard let (component, remainder) = component(of: rest) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(component)
            guard !overflow else { return nil }
            total = sum
            rest = remainder
        }
        if negative {
            guard total <= UInt64(Int64.max) + 1 else { return nil }
            return total == UInt64(Int64.max) + 1 ? Int64.min : -Int64(total)
        }
        guard total <= UInt64(Int64.max) else { return nil }
        return Int64(total)
    }

    /// One `<number><unit>` at the start of `text`, in nanoseconds, and what follows it.
    private static func component(of text: Substring) -> (UInt64, Substring)? {
        var rest = text
        let whole = rest.prefix { $0.isASCII && $0.isNumber }
        rest = rest.dropFirst(whole.count)
        var fraction = Substring("")
        if rest.first == "." {
            rest = rest.dropFirst()
            fraction = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(fraction.count)
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return nil }
        let unitText = rest.prefix { $0 != "." && !($0.isASCII && $0.isNumber) }
        guard let unit = units[String(unitText)] else { return nil }
        rest = rest.dropFirst(unitText.count)

        var value: UInt64 = 0
        for digit in whole {
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            let (plus, overflowPlus) = times.addingReportingOverflow(UInt64(digit.wholeNumberValue!))
            guard !overflowTimes, !overflowPlus else { return nil }
            value = plus
        }
        let (scaled, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        // The fraction adds at most one unit; digits past double precision do not matter.
        var part = 0.0
        var scale = 1.0
        for digit in fraction.prefix(18) {
            part = part * 10 + Double(digit.wholeNumberValue!)
            scale *= 10
        }
        let (sum, overflowSum) = scaled.addingReportingOverflow(UInt64(part * (Double(unit) / scale)))
        guard !overflowSum else { return nil }
        return (sum, rest)
    }
}
