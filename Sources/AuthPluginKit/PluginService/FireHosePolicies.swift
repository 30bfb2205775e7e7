import Foundation
import Logging
import SidecarCore
import Synchronization
import TinodeProto

/// The FireHose policies, by metric label.
enum FireHosePolicy: String, Sendable {
    /// Too many `{login}`/`{acc}` attempts from one address: ctrl 429.
    case throttle
    /// A `{pub}` whose content is over `PLUGIN_MAX_PUB_BYTES`: ctrl 413.
    case size
    /// A new `basic` account whose login is not its e-mail's login name: ctrl 422.
    case canonical
    /// A `{login scheme:"token"}` with a Tinode token issued before the user's logout-all, deletion
    /// or refresh-token reuse: ctrl 401.
    case revokedToken = "revoked_token"
}

/// What FireHose answers, and the policy that refused the message, if any.
struct FireHoseDecision: Sendable {
    let response: Pbx_ServerResp
    let policy: FireHosePolicy?

    /// `CONTINUE`: Tinode processes the message as usual.
    static let proceed = FireHoseDecision(response: FireHosePolicies.proceed, policy: nil)
}

/// Decides what Tinode does with one client message (tinode-protocol.md 2.4).
///
/// FireHose is called for every client message, synchronously, before Tinode processes it: the
/// answer for anything no policy concerns is an immediate `CONTINUE`, with no store access. A refusal
/// is `RESPOND` with a ctrl that carries the client's `id` (and `topic` where the message has one),
/// because Tinode fills in neither.
struct FireHosePolicies: Sendable {
    let settings: PluginSettings
    let rateLimiter: any RateLimiter
    let loginNames: LoginNameMapper
    let metrics: PluginMetrics
    let logger: Logger
    /// Per-user marks of revoked Tinode tokens; nil: token logins are not checked.
    var revocations: (any TinodeTokenRevocations)? = nil
    /// Tinode's `expire_in`, to tell when a token was issued from its expiry.
    var tokenLifetime: Duration = .seconds(1_209_600)

    /// Key prefix of the login buckets in the shared rate limiter.
    static let bucketPrefix = "plugin-login:"

    /// The answer when no store is needed: everything but a `{login}` or `{acc}` that the throttle
    /// applies to, which gets nil (``decide(_:)`` then takes the token and decides).
    func decideAtOnce(_ request: Pbx_ClientReq) -> FireHoseDecision? {
        switch request.msg.message {
        case .login(let login):
            return throttles(request.sess) || revokedTokenCheck(login) != nil ? nil : .proceed
        case .acc(let acc):
            return throttles(request.sess) ? nil : accountDecision(acc)
        case .pub(let pub):
            if let limit = settings.maxPubBytes, pub.content.count > limit {
                return FireHoseDecision(response: Self.refusal(id: pub.id, topic: pub.topic, code: 413, text: "too large"), policy: .size)
            }
            return .proceed
        default:
            return .proceed
        }
    }

    /// The answer to one FireHose call, waiting for the shared rate limiter where the throttle applies.
    func decide(_ request: Pbx_ClientReq) async -> FireHoseDecision {
        if let decision = decideAtOnce(request) { return decision }
        switch request.msg.message {
        case .login(let login):
            if await throttled(request.sess) { return Self.throttled(id: login.id) }
            if let token = revokedTokenCheck(login), await isRevoked(token) {
                return FireHoseDecision(
                    response: Self.refusal(id: login.id, topic: "", code: 401, text: "authentication failed"), policy: .revokedToken)
            }
        case .acc(let acc):
            if await throttled(request.sess) { return Self.throttled(id: acc.id) }
            return accountDecision(acc)
        default:
            break
        }
        return .proceed
    }

    private static func throttled(id: String) -> FireHoseDecision {
        FireHoseDecision(response: refusal(id: id, topic: "", code: 429, text: "too many requests"), policy: .throttle)
    }

    private func accountDecision(_ acc: Pbx_ClientAcc) -> FireHoseDecision {
        guard accountAllowed(acc) else {
            return FireHoseDecision(response: Self.refusal(id: acc.id, topic: "", code: 422, text: "policy violation"), policy: .canonical)
        }
        return .proceed
    }

    /// `CONTINUE`: Tinode processes the message as usual.
    static let proceed = Pbx_ServerResp.with { $0.status = .continue }

    /// `RESPOND` with a ctrl for the client, in place of processing its message.
    static func refusal(id: String, topic: String, code: Int32, text: String) -> Pbx_ServerResp {
        .with {
            $0.status = .respond
            $0.srvmsg = .with {
                $0.ctrl = .with {
                    $0.id = id
                    $0.topic = topic
                    $0.code = code
                    $0.text = text
                }
            }
        }
    }

    /// The token of a `{login scheme:"token"}` when revocations are checked and it has Tinode's layout.
    private func revokedTokenCheck(_ login: Pbx_ClientLogin) -> TinodeTokenLayout? {
        guard revocations != nil, login.scheme.lowercased() == "token" else { return nil }
        return TinodeTokenLayout(login.secret)
    }

    /// Whether the token was issued before its user's mark. A store that fails or is slow lets the
    /// login through (counted and logged): the Gateway's sessions log in again by token after every
    /// reconnect, and a Valkey outage must not end them all; the mark applies again once Valkey answers.
    private func isRevoked(_ token: TinodeTokenLayout) async -> Bool {
        guard let revocations else { return false }
        let mark = await withDeadline(settings.throttleTimeout) { () -> Result<Date?, any Error> in
            do { return .success(try await revocations.revokedBefore(userID: token.userID)) } catch { return .failure(error) }
        }
        warnIfLifetimeTooShort(token)
        switch mark {
        case .success(let mark?):
            guard token.issued(lifetime: tokenLifetime) < mark else { return false }
            logger.notice("FireHose: Tinode token issued before the user's logout-all refused", metadata: ["user": "\(token.userID)"])
            return true
        case .success(nil):
            return false
        case .failure(let error):
            metrics.throttleErrors.increment()
            logger.warning("FireHose: revocation check failed; token login let through", metadata: ["error": "\(error)"])
            return false
        case nil:
            metrics.throttleErrors.increment()
            logger.warning("FireHose: revocation check timed out; token login let through")
            return false
        }
    }

    /// A token that expires later than now plus `TINODE_TOKEN_LIFETIME_SECONDS` shows that Tinode's
    /// `expire_in` is longer than the setting: every such token then looks issued later than it
    /// was, and a logout-all would miss it. Said once per process, loudly.
    private func warnIfLifetimeTooShort(_ token: TinodeTokenLayout) {
        let slack: TimeInterval = 120
        guard token.expires.timeIntervalSinceNow > TimeInterval(tokenLifetime.components.seconds) + slack,
            !lifetimeWarned.flag.exchange(true, ordering: .relaxed)
        else { return }
        logger.error(
            "FireHose: a Tinode token expires later than TINODE_TOKEN_LIFETIME_SECONDS allows; set it to tinode.conf's auth_config.token.expire_in, or logout-all misses older tokens",
            metadata: ["lifetime_seconds": "\(tokenLifetime.components.seconds)"])
    }

    /// Whether the lifetime error was logged (once per plugin service).
    private let lifetimeWarned = OnceFlag()

    /// Whether `{login}` and `{acc}` from this session must take a token: throttling is on and the
    /// client's address is not exempt.
    private func throttles(_ session: Pbx_Session) -> Bool {
        guard settings.loginAttemptsPerMinute != nil else { return false }
        if let host = ClientAddress.host(of: session.remoteAddr), settings.throttleExempt.allows(host) { return false }
        return true
    }

    /// Takes a token from the client address's bucket; true when the bucket is empty.
    /// A store that fails or is slow lets the message through (counted and logged): an outage of
    /// Valkey must not lock everyone out of Tinode.
    private func throttled(_ session: Pbx_Session) async -> Bool {
        guard let perMinute = settings.loginAttemptsPerMinute else { return false }
        let host = ClientAddress.host(of: session.remoteAddr)
        if let host, settings.throttleExempt.allows(host) { return false }
        let key = Self.bucketPrefix + (host ?? "unknown")
        let limiter = rateLimiter
        let decision = await withDeadline(settings.throttleTimeout) { () -> Result<RateDecision, any Error> in
            do { return .success(try await limiter.take(key, limit: .perMinute(perMinute))) } catch { return .failure(error) }
        }
        switch decision {
        case .success(.allowed):
            return false
        case .success(.limited):
            logger.notice("FireHose: login attempts throttled", metadata: ["client_addr": "\(host ?? "unknown")"])
            return true
        case .failure(let error):
            metrics.throttleErrors.increment()
            logger.warning("FireHose: throttle check failed, message let through", metadata: ["error": "\(error)"])
            return false
        case nil:
            metrics.throttleErrors.increment()
            logger.warning("FireHose: throttle check timed out, message let through", metadata: ["timeout": "\(settings.throttleTimeout)"])
            return false
        }
    }

    /// The canonical-name rule for `{acc}`: a new `basic` account with an `email` credential must use
    /// one of that address's two login names, the canonical one or the extended one that the Gateway
    /// registers when the canonical name is squatted (case does not matter: Tinode lower-cases basic
    /// logins). Any other login is refused, and so is an address that has no login name (not an
    /// e-mail address). Other `{acc}`s pass, and so do addresses under the reserved `.invalid` domain.
    private func accountAllowed(_ acc: Pbx_ClientAcc) -> Bool {
        guard acc.userID.hasPrefix("new"), acc.scheme.lowercased() == "basic",
            let address = acc.cred.first(where: { $0.method.lowercased() == "email" })?.value
        else { return true }
        // `login:password`; without a colon Tinode itself answers 400.
        guard let colon = acc.secret.firstIndex(of: UInt8(ascii: ":")) else { return true }
        let login = String(decoding: acc.secret[acc.secret.startIndex..<colon], as: UTF8.self).lowercased()
        let email = try? LoginNameMapper.normalise(address)
        // `.invalid` (RFC 2606) is never a mailbox, so there is no address to keep findable: the
        // Gateway's self-registered development service account uses `<login>@gateway.invalid`.
        if let email, email.hasSuffix(".invalid") { return true }
        if settings.canonicalLogins, !loginNames.isLoginName(login, of: address) {
            let expected = (try? loginNames.loginNames(for: address))?.joined(separator: " or ")
            // The login is not secret; the password is never read beyond the colon.
            logger.notice(
                "FireHose: new basic account refused, login is not one of the e-mail's login names",
                metadata: ["login": "\(login)", "expected": "\(expected ?? "<not an e-mail address>")"])
            return false
        }
        return true
    }
}

/// A flag that is set once, shared by the copies of a value type.
final class OnceFlag: Sendable {
    let flag = Atomic(false)
}
