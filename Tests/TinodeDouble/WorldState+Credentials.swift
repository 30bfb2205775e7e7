import Foundation
import TinodeProto

/// Credentials and their validation (fixture i). Without `Options.emailValidation` credentials are
/// only stored; with it, an e-mail credential gets a mailed code, and logins of an account without a
/// validated address answer 300 until a login's `cred` carries the code.
extension WorldState {
    static let confirmationSubject = "Tinode registration: confirm email"

    /// `reqCred` of the `hi` reply.
    var requiredCredentialsJSON: Data {
        options.emailValidation == nil ? GoJSON.null : GoJSON.object([("auth", GoJSON.stringArray(["email"]))])
    }

    /// Whether a new account's credentials satisfy what is required.
    func coversRequiredCredentials(_ credentials: [Pbx_ClientCred]) -> Bool {
        options.emailValidation == nil || credentials.contains { $0.method == "email" && !$0.value.isEmpty }
    }

    /// Stores a credential (unvalidated); with validation on, a confirmation mail goes out. For a
    /// credential the user has already and has not validated, a new code replaces the old one (and
    /// its count of wrong answers), as Tinode's validator upserts its record.
    mutating func addCredential(_ credential: Pbx_ClientCred, to user: String, now: Int64) {
        guard !credential.method.isEmpty, !credential.value.isEmpty, let existing = users[user]?.credentials else { return }
        let value = credential.method == "email" ? credential.value.lowercased() : credential.value
        if let index = existing.firstIndex(where: { $0.method == credential.method && $0.value == value }) {
            guard options.emailValidation != nil, credential.method == "email", !existing[index].isValidated else { return }
            let code = newConfirmationCode()
            users[user]!.credentials[index].code = code
            users[user]!.credentials[index].retries = 0
            mails.append(MailRecord(user: user, address: value, subject: Self.confirmationSubject, code: code))
            return
        }
        var record = CredentialRecord(method: credential.method, value: value)
        if options.emailValidation != nil, credential.method == "email" {
            let code = newConfirmationCode()
            record.code = code
            mails.append(MailRecord(user: user, address: value, subject: Self.confirmationSubject, code: code))
        }
        users[user]?.credentials.append(record)
    }

    /// The required methods the user has not validated, after applying the login's responses: a
    /// right code (or the debug response) validates the address and adds its `email:` tag; a wrong
    /// one is no error (fixture i) but counts against `maxRetries`.
    ///
    /// Like Tinode's validator, the response is checked against the user's active (latest
    /// unvalidated) e-mail credential whatever `value` the response names; each wrong answer counts,
    /// and past `maxRetries` the answer is a policy violation (nil here) until a new code is sent.
    mutating func missingCredentials(of user: String, answering responses: [Pbx_ClientCred]) -> [String]? {
        guard let validation = options.emailValidation, let record = users[user], !record.hasValidatedEmail else { return [] }
        for response in responses where response.method == "email" && !response.response.isEmpty {
            guard let index = record.credentials.lastIndex(where: { $0.method == "email" && !$0.isValidated }) else { continue }
            let credential = record.credentials[index]
            guard credential.retries <= validation.maxRetries else { return nil }
            guard response.response == credential.code || response.response == validation.debugResponse else {
                users[user]!.credentials[index].retries += 1
                continue
            }
            users[user]!.credentials[index].isValidated = true
            users[user]!.tags.append("email:" + credential.value)
            return []
        }
        return ["email"]
    }

    /// Six digits, never the debug response (the fixture's mails never carried it).
    private func newConfirmationCode() -> String {
        while true {
            let code = String(Int.random(in: 100_000...999_999))
            if code != options.emailValidation?.debugResponse { return code }
        }
    }
}
