extension CtrlStatus {
    /// The ctrl Tinode's `decodeStoreError` makes of a store error, which is what an authenticator's
    /// `{"err": ...}` becomes (tinode-protocol.md 1.6; fixtures rest-auth 10 to 22). Unknown strings
    /// are 500. So is "redirected", where Tinode panics instead (1.11): a double that panicked would
    /// hide the cause, and no IdP may send it.
    init(storeError: String) {
        self =
            switch storeError {
            case "malformed": .malformed
            case "failed", "expired": .authenticationFailed
            case "denied": .permissionDenied
            case "duplicate value": .duplicateCredential
            case "unsupported": .notImplemented
            case "policy": .policyViolation
            case "credentials": .validateCredentials
            case "user not found": .userNotFound
            case "topic not found": .topicNotFound
            case "not found": .notFound
            case "invalid response": .invalidResponse
            default: .internalError
            }
    }
}
