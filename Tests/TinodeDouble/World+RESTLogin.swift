/// The HTTP side of `{login scheme:"rest"}`: each REST-auth call is made without the lock, and its
/// answer is applied under it (WorldState+RESTLogin.swift), so a slow server holds up only the
/// stream that is logging in.
extension World {
    func logInThroughREST(_ pending: PendingRESTLogin) async {
        guard let restAuth else { return }
        let body = RESTAuthRequest.body(endpoint: "auth", secret: pending.login.secret, address: pending.remoteAddress)
        let answer = await restAuth.call("auth", body: body)
        let answeredAt = now()
        let step = state.withLock { $0.continueRESTLogin(pending, answer, now: answeredAt) }
        guard case .link(let link) = step else { return }
        let linked = await restAuth.call("link", body: link.body)
        let linkedAt = now()
        state.withLock { $0.finishRESTLink(link, linked, now: linkedAt) }
    }
}
