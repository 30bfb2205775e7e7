import Foundation

/// Why a request on a user's Tinode session did not produce a result. Callers map these once, at the
/// HTTP edge: `rejected` carries Tinode's own code, the rest are the sidecar's conditions.
public enum TinodeSessionError: Error, Sendable, Equatable {
    /// Tinode answered with an error ctrl (code 300 and above), e.g. 409 `must attach first`.
    case rejected(code: Int, text: String, params: [String: String])
    /// No reply within the request timeout. The request may still have taken effect on Tinode.
    case timeout
    /// Tinode cannot be reached right now (connect failed, stream broke, reconnect pending). Nothing
    /// was sent, or the stream broke before an answer: the request may be retried after `retryAfter`.
    case unavailable(retryAfter: Duration)
    /// Tinode ended the session on its own (ctrl 205), e.g. because the user was deleted or suspended,
    /// and logging in again was refused.
    case evicted
    /// Tinode refused the session's credentials (token expired or revoked, wrong password).
    case authenticationFailed(code: Int, text: String)
    /// Tinode knows the account but answered 300 "validate credentials": its e-mail address is not
    /// proven yet. `token` (from that answer) cannot log in alone; with the mailed code it can.
    case validationRequired(userID: String, token: Data, expires: Date?)
    /// The session was closed (logout, idle, shutdown) while the request waited.
    case closed
    /// Tinode sent something the protocol does not allow here; the text says what.
    case protocolViolation(String)
}

extension TinodeSessionError {
    /// Whether a request that was sent and then failed this way may still have taken effect on
    /// Tinode: no answer came (timeout), or the stream or session ended while it waited.
    public var outcomeUnknown: Bool {
        switch self {
        case .timeout, .unavailable, .closed: true
        case .rejected, .evicted, .authenticationFailed, .validationRequired, .protocolViolation: false
        }
    }
}

extension TinodeSessionError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .rejected(let code, let text, _): "Tinode answered \(code) \(text)"
        case .timeout: "no reply from Tinode in time"
        case .unavailable: "Tinode is unavailable"
        case .evicted: "Tinode evicted the session"
        case .authenticationFailed(let code, let text): "Tinode refused the login: \(code) \(text)"
        case .validationRequired: "Tinode requires the account's e-mail address to be validated"
        case .closed: "the session is closed"
        case .protocolViolation(let what): "unexpected reply from Tinode: \(what)"
        }
    }
}
