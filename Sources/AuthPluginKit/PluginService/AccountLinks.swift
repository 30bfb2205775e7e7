import Logging
import SidecarCore
import TinodeProto

/// Records uid <-> e-mail for accounts Tinode reports in `Account` events, in the same link table
/// REST-auth uses (``IdentityLinkStore``): a user who registered through `basic` (the Gateway) and
/// later logs in with a backend JWT carrying that e-mail then gets the same Tinode account.
///
/// The address comes from an `email:<address>` tag when the account has one, else from the
/// `{acc}` FireHose saw for its `basic:<login>` tag (``PendingRegistrations``).
struct AccountLinks: Sendable {
    let store: any IdentityLinkStore
    let registrations: PendingRegistrations
    let metrics: PluginMetrics
    let logger: Logger

    func record(_ event: Pbx_AccountEvent) async {
        guard event.action == .create || event.action == .update else { return }
        guard event.userID.hasPrefix("usr") else { return }
        let uid = String(event.userID.dropFirst(3))
        var email: String?
        for tag in event.tags where tag.lowercased().hasPrefix("email:") {
            email = try? LoginNameMapper.normalise(String(tag.dropFirst(6)))
            if email != nil { break }
        }
        if email == nil, event.action == .create {
            for tag in event.tags where tag.lowercased().hasPrefix("basic:") {
                email = registrations.take(login: String(tag.dropFirst(6)).lowercased())
                if email != nil { break }
            }
        }
        guard let email else {
            if event.action == .create { metrics.link("no_email") }
            return
        }
        do {
            switch try await store.link(email: email, uid: uid) {
            case .created:
                metrics.link("created")
                logger.info("Account: linked new user to its e-mail", metadata: ["uid": "\(uid)"])
            case .alreadyLinked:
                metrics.link("already_linked")
            case .conflict(let existing):
                metrics.link("conflict")
                logger.warning(
                    "Account: e-mail already linked to another user, link not changed",
                    metadata: ["uid": "\(uid)", "linked_uid": "\(existing)"])
            case .uidHasOtherEmail:
                metrics.link("conflict")
                logger.warning("Account: user already linked to another e-mail, link not changed", metadata: ["uid": "\(uid)"])
            }
        } catch {
            metrics.link("error")
            logger.error("Account: could not record the e-mail link", metadata: ["uid": "\(uid)", "error": "\(error)"])
        }
    }
}
