/// Tinode's access-mode bits as stored in `modewant` / `modegiven` (int64 bit masks in MongoDB, not
/// the `"JRWPS"` strings of the SQL adapters).
public enum AccessMode {
    public static let join: Int64 = 1
    public static let read: Int64 = 2

    /// Whether a subscription lets its user read: J and R granted by the topic and wanted by the user.
    /// Tinode's own read check is R alone, but a session cannot attach without J on both sides,
    /// so without J the protocol path could not read either (schema §3.5, §4.3).
    public static func canRead(want: Int64, given: Int64) -> Bool {
        want & given & (join | read) == join | read
    }

    /// Whether a subscription makes its user a member at all (not banned, not left): J on both sides.
    public static func isMember(want: Int64, given: Int64) -> Bool {
        want & given & join == join
    }
}
