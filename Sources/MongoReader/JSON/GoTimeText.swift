/// Times as Go's `time.Time` marshals a UTC time (RFC 3339 with the fraction's trailing zeros
/// dropped: `2019-10-11T12:13:14.522Z`, `2019-10-11T12:13:14Z`). Computed on the proleptic
/// Gregorian calendar, as Go does, so that Tinode's zero time (0001-01-01) comes out right too.
enum GoTimeText {
    static func format(millisecondsSinceEpoch millis: Int64) -> String {
        let millisPerDay: Int64 = 86_400_000
        let days = millis >= 0 ? millis / millisPerDay : -((-millis + millisPerDay - 1) / millisPerDay)
        let withinDay = millis - days * millisPerDay
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let seconds = withinDay / 1000
        var text = padded(year, 4) + "-" + padded(month, 2) + "-" + padded(day, 2)
        text += "T" + padded(seconds / 3600, 2) + ":" + padded(seconds / 60 % 60, 2) + ":" + padded(seconds % 60, 2)
        let fraction = withinDay % 1000
        if fraction != 0 {
            var digits = padded(fraction, 3)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + "Z"
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// Year, month and day of a day count since 1970-01-01, counting in 400-year eras of 146097 days
    /// that start on 1 March (so the leap day is the last day of an era's year).
    private static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let daysFromEraZero = daysSinceEpoch + 719_468  // 0000-03-01 to 1970-01-01
        let era = (daysFromEraZero >= 0 ? daysFromEraZero : daysFromEraZero - 146_096) / 146_097
        let dayOfEra = daysFromEraZero - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0 = March
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
