import Foundation

/// JSON text written the way Go's `encoding/json` writes it, because every JSON byte Tinode sends is
/// Go's output: compact, map keys sorted bytewise, `<`, `>`, `&`, U+2028 and U+2029 escaped, numbers
/// as shortest float64 text without a needless exponent, times as RFC 3339 with trailing zeros of
/// the fraction dropped.
enum GoJSON {
    static let null = Data("null".utf8)

    /// Client JSON as Tinode passes it on: decoded into Go values and encoded again. Nil when invalid.
    static func reencode(_ raw: Data) -> Data? {
        JSONValue.parse(raw).map(encode)
    }

    static func encode(_ value: JSONValue) -> Data {
        var out = [UInt8]()
        write(value, to: &out)
        return Data(out)
    }

    static func string(_ text: String) -> Data {
        var out = [UInt8]()
        writeString(text, to: &out)
        return Data(out)
    }

    static func number(_ value: Int) -> Data {
        Data(String(value).utf8)
    }

    static func stringArray(_ items: [String]) -> Data {
        encode(.array(items.map(JSONValue.string)))
    }

    /// An object whose members keep the given order, like a Go struct (tags in field order).
    static func object(_ members: [(String, Data)]) -> Data {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (offset, member) in members.enumerated() {
            if offset > 0 { out.append(UInt8(ascii: ",")) }
            writeString(member.0, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: member.1)
        }
        out.append(UInt8(ascii: "}"))
        return Data(out)
    }

    /// A time as Go's `time.Time.MarshalJSON` writes a UTC time rounded to milliseconds.
    static func time(millis: Int64) -> Data {
        string(rfc3339(millis: millis))
    }

    static func rfc3339(millis: Int64) -> String {
        let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let inDay = millis - days * 86_400_000
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let seconds = inDay / 1000
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T"
        text += pad(seconds / 3600, 2) + ":" + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2)
        var fraction = inDay % 1000
        if fraction > 0 {
            var digits = 3
            while fraction % 10 == 0 {
                fraction /= 10
                digits -= 1
            }
            text += "." + pad(fraction, digits)
        }
        return text + "Z"
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
    private static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: null)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): out.append(contentsOf: formatNumber(number).utf8)
        case .string(let text): writeString(text, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (offset, key) in keys.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(members[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: "\\\"".utf8)
            case "\\": out.append(contentsOf: "\\\\".utf8)
            case "\n": out.append(contentsOf: "\\n".utf8)
            case "\r": out.append(contentsOf: "\\r".utf8)
            case "\t": out.append(contentsOf: "\\t".utf8)
            case "\u{08}": out.append(contentsOf: "\\b".utf8)
            case "\u{0C}": out.append(contentsOf: "\\f".utf8)
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                appendUnicodeEscape(scalar.value, to: &out)
            default:
                if scalar.value < 0x20 {
                    appendUnicodeEscape(scalar.value, to: &out)
                } else {
                    out.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendUnicodeEscape(_ value: UInt32, to out: inout [UInt8]) {
        out.append(contentsOf: "\\u".utf8)
        for shift in stride(from: 12, through: 0, by: -4) {
            out.append(hexDigits[Int((value >> UInt32(shift)) & 0xF)])
        }
    }

    /// Go's float encoder: `strconv.FormatFloat(f, 'f', -1, 64)`, or the 'e' form below 1e-6 and
    /// from 1e21 on, with a one-digit negative exponent written without its leading zero.
    static func formatNumber(_ number: Double) -> String {
        if number == 0 { return "0" }
        let (negative, digits, exponent) = shortestDigits(number)
        let sign = negative ? "-" : ""
        let magnitude = abs(number)
        if magnitude < 1e-6 || magnitude >= 1e21 {
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let power = exponent - 1
            let powerDigits = String(abs(power))
            let paddedPower = power < 0 ? powerDigits : (powerDigits.count < 2 ? "0" + powerDigits : powerDigits)
            return sign + mantissa + "e" + (power < 0 ? "-" : "+") + paddedPower
        }
        // Value = 0.digits * 10^exponent.
        if exponent <= 0 {
            return sign + "0." + String(repeating: "0", count: -exponent) + digits
        }
        if exponent >= digits.count {
            return sign + digits + String(repeating: "0", count: exponent - digits.count)
        }
        let cut = digits.index(digits.startIndex, offsetBy: exponent)
        return sign + digits[..<cut] + "." + digits[cut...]
    }

    /// The shortest round-tripping decimal digits of a non-zero finite double and the decimal
    /// exponent `e` such that the value is `0.d1d2d3... * 10^e` (Swift's `description` is shortest too).
    private static func shortestDigits(_ number: Double) -> (Bool, String, Int) {
        var text = abs(number).description
        var exponent = 0
        if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: marker)...])!
            text = String(text[..<marker])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = whole + fraction
        var pointPosition = whole.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (number < 0, digits, pointPosition)
    }
}
