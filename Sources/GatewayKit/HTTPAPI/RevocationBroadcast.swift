import Logging
import ServiceLifecycle
import SidecarCore

extension GatewayAPI {
    /// After logins ended in the store: acts on it here at once (streams end with `revoked`, the
    /// user's Tinode session closes), then tells every other instance. Telling them is best effort:
    /// an instance that misses the notice finds the token gone at its streams' next check.
    func announce(_ notice: RevocationNotice) async {
        await applyRevocation(notice)
        do {
            try await revocationNotices.publish(notice)
        } catch {
            logger.warning(
                "could not tell the other Gateway instances of a revocation; their streams end at the next check",
                metadata: ["user": "\(notice.userID)", "error": "\(error)"])
        }
    }

    /// What a revocation means on this instance: the streams of the revoked tokens end, told first
    /// so that they end as revoked rather than as "the feed ended" when the session closes under
    /// them. The user's Tinode session closes when every login ended (its Tinode tokens are revoked
    /// too), or when one login ended and none of the user's other streams is open here: the user
    /// then goes offline in Tinode at once, and another login's next request opens a new session.
    /// With other logins' streams open, the session stays, so that logging out on one device does
    /// not interrupt another.
    func applyRevocation(_ notice: RevocationNotice) async {
        let ended = streamTokens.end(notice)
        if ended > 0 { logger.debug("live streams ended by a revocation", metadata: ["user": "\(notice.userID)", "streams": "\(ended)"]) }
        if notice.familyID == nil || streamTokens.liveCount(user: notice.userID) == 0 {
            await pool.close(userID: notice.userID)
        }
    }

    /// Asks the store about every open stream's token: after a (re)subscription, when notices may
    /// have been missed.
    func recheckStreamTokens() async {
        for authorization in streamTokens.all() where authorization.endReason == nil {
            if await !Self.isLive(accessID: authorization.accessID, userID: authorization.userID, in: tokenStore) {
                authorization.end(.revoked)
            }
        }
    }
}

/// Listens for revocation notices from every instance (and AuthPlugin's REST-auth `del`) for as
/// long as the Gateway runs.
struct RevocationListener: Service {
    let api: GatewayAPI

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await api.revocationNotices.listen(
                received: { notice in
                    Task { await api.applyRevocation(notice) }
                },
                resubscribed: { await api.recheckStreamTokens() })
        }
    }
}
