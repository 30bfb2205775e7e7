import Foundation

extension TinodeDouble {
    /// Tinode's REST authenticator (tinode-protocol.md 1.1) as tinode.conf `auth_config.rest` sets it
    /// up with `use_separate_endpoints: true`, so that a test can put a real REST-auth server (the
    /// AuthPlugin, or a script) behind `{login scheme:"rest"}`.
    ///
    /// What the double does: `{login scheme:"rest"}` POSTs `<serverURL>auth`; on an answer without
    /// `rec.uid` and with `newacc` it creates the account and POSTs `<serverURL>link` (1.7, 1.8).
    ///
    /// Not modelled: `{acc scheme:"rest"}` (answered as today), `{acc tmp_scheme:"rest"}`, HTTP
    /// file transfers, and so the endpoints `checkunique`, `add`, `upd`, `del`, `gen` and `rtagns`
    /// (never called; no `rtagns` at start, so no restricted tag namespaces from the server);
    /// `logical_names` (the request's `name` is always "rest"); `newacc.trusted`; account GC.
    /// Answers the double cannot represent get 501 "not implemented" instead of Tinode's outcome: an
    /// `authlvl` other than "auth" or "root", the `L` (no-login) feature, an account state other
    /// than "ok" for a new account, a uid the double has no user for with state "ok" (Tinode
    /// would log in a user it has no row for, #859), and a missing uid while `allowNewAccounts` is
    /// false. `{"err":"redirected"}`, which makes Tinode panic (1.11), is answered 500.
    public struct RESTAuth: Sendable {
        /// `server_url`: an absolute http(s) URL. As in Tinode, a `/` is appended to its path when
        /// missing and the endpoint name goes after it (`http://127.0.0.1:5000/` → `.../auth`).
        public var serverURL: String
        /// `allow_new_accounts`: an `auth` answer without `rec.uid` creates the account (1.8).
        public var allowNewAccounts: Bool
        /// Per call. Tinode v0.25.3 waits forever (1.2; devel's `timeout` defaults to 5 s); a double
        /// must not hang a test, so a call that takes longer fails as an unreachable server does:
        /// 500 "internal error".
        public var timeout: Duration

        public init(serverURL: String, allowNewAccounts: Bool = true, timeout: Duration = .seconds(5)) {
            self.serverURL = serverURL
            self.allowNewAccounts = allowNewAccounts
            self.timeout = timeout
        }

        /// Where an endpoint is POSTed to; nil when `serverURL` is not absolute (Tinode refuses to start).
        func url(for endpoint: String) -> String? {
            guard var components = URLComponents(string: serverURL), let scheme = components.scheme, !scheme.isEmpty,
                let host = components.host, !host.isEmpty
            else { return nil }
            if !components.path.hasSuffix("/") { components.path += "/" }
            components.path += endpoint
            return components.string
        }
    }
}
