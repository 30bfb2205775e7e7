/// A ctrl code with the exact text Tinode v0.25.3 sends with it (tinode-protocol.md 3.7).
struct CtrlStatus: Sendable {
    let code: Int32
    let text: String

    static let ok = CtrlStatus(code: 200, text: "ok")
    static let created = CtrlStatus(code: 201, text: "created")
    static let accepted = CtrlStatus(code: 202, text: "accepted")
    static let noContent = CtrlStatus(code: 204, text: "no content")
    static let evicted = CtrlStatus(code: 205, text: "evicted")
    static let delivered = CtrlStatus(code: 208, text: "delivered")
    static let validateCredentials = CtrlStatus(code: 300, text: "validate credentials")
    /// A multi-step login: the authenticator answered with a challenge (tinode-protocol.md 1.7).
    static let challenge = CtrlStatus(code: 300, text: "challenge")
    static let alreadySubscribed = CtrlStatus(code: 304, text: "already subscribed")
    static let notJoined = CtrlStatus(code: 304, text: "not joined")
    static let malformed = CtrlStatus(code: 400, text: "malformed")
    static let authenticationRequired = CtrlStatus(code: 401, text: "authentication required")
    static let authenticationFailed = CtrlStatus(code: 401, text: "authentication failed")
    static let unknownScheme = CtrlStatus(code: 401, text: "unknown authentication scheme")
    static let permissionDenied = CtrlStatus(code: 403, text: "permission denied")
    static let topicNotFound = CtrlStatus(code: 404, text: "topic not found")
    static let notFound = CtrlStatus(code: 404, text: "not found")
    static let userNotFound = CtrlStatus(code: 404, text: "user not found")
    static let invalidResponse = CtrlStatus(code: 406, text: "invalid response")
    static let alreadyAuthenticated = CtrlStatus(code: 409, text: "already authenticated")
    static let duplicateCredential = CtrlStatus(code: 409, text: "duplicate credential")
    static let mustAttachFirst = CtrlStatus(code: 409, text: "must attach first")
    static let outOfSequence = CtrlStatus(code: 409, text: "command out of sequence")
    static let policyViolation = CtrlStatus(code: 422, text: "policy violation")
    static let internalError = CtrlStatus(code: 500, text: "internal error")
    /// Tinode's code for a feature that is switched off; the double uses it for what it does not model.
    static let notImplemented = CtrlStatus(code: 501, text: "not implemented")
    static let versionNotSupported = CtrlStatus(code: 505, text: "version not supported")
}
