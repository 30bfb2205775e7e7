import Foundation

extension TinodeDouble {
    /// Required e-mail validation, as tinode.conf `acc_validation.email` with `required: ["auth"]`
    /// sets it up (fixture i). A new account must then come with an e-mail credential; until the
    /// code mailed to it (or `debugResponse`) comes back in a login's `cred`, logins answer 300
    /// "validate credentials" and the stream stays unauthenticated.
    public struct EmailValidation: Sendable {
        /// tinode.conf `debug_response`: a response accepted for any address (the fixture's "123456").
        public var debugResponse: String?
        /// tinode.conf `max_retries` (Tinode's default 3): once a credential has had more wrong
        /// answers than this, every login that answers it gets 422 "policy violation" until a new
        /// code is requested.
        public var maxRetries: Int

        public init(debugResponse: String? = nil, maxRetries: Int = 3) {
            self.debugResponse = debugResponse
            self.maxRetries = maxRetries
        }
    }

    /// A confirmation mail, which the double keeps instead of sending it over SMTP.
    public struct ConfirmationMail: Sendable, Equatable {
        /// The `usr...` id of the account.
        public var user: String
        public var address: String
        /// "Tinode registration: confirm email", as Tinode's stock template writes it.
        public var subject: String
        /// The six-digit code that validates the address.
        public var code: String
    }

    /// Every confirmation mail so far, oldest first.
    public func confirmationMails() -> [ConfirmationMail] {
        world.state.withLock { state in
            state.mails.map { ConfirmationMail(user: $0.user, address: $0.address, subject: $0.subject, code: $0.code) }
        }
    }
}
