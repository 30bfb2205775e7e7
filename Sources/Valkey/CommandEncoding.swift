import NIOCore

extension ByteBuffer {
    /// Writes one command as a RESP array of bulk strings, the form every server accepts.
    ///
    /// Bulk strings carry explicit lengths, so arguments are binary-safe (NUL bytes and CR LF included).
    mutating func writeCommand(_ arguments: [[UInt8]]) {
        writeInteger(UInt8(ascii: "*"))
        writeDecimal(arguments.count)
        for argument in arguments {
            writeInteger(UInt8(ascii: "$"))
            writeDecimal(argument.count)
            writeBytes(argument)
            writeCRLF()
        }
    }

    /// The number of bytes ``writeCommand(_:)`` will write, so that a buffer is allocated once.
    static func encodedSize(of arguments: [[UInt8]]) -> Int {
        arguments.reduce(16) { $0 + $1.count + 16 }
    }

    private mutating func writeDecimal(_ value: Int) {
        writeString(String(value))
        writeCRLF()
    }

    private mutating func writeCRLF() {
        writeInteger(UInt16(0x0D0A), endianness: .big)
    }
}
