extension TinodeDouble {
    /// Server settings; the defaults are those of the server the fixtures were recorded on.
    public struct Options: Sendable {
        /// basic's `min_login_length` (stock config: 4).
        public var minLoginLength = 4
        /// basic's `min_password_length` (stock config: 6).
        public var minPasswordLength = 6
        /// The postgres adapter stores `basic:<login>` in 32 characters, so logins of 27 to 32
        /// characters pass Tinode's own check and then fail with 500 "internal error".
        public var maxStoredLoginLength = 26
        /// The token authenticator's `expire_in`.
        public var tokenLifetime: Duration = .seconds(1_209_600)
        /// `max_message_size`: the `hi` parameter, and larger client messages end the stream.
        public var maxMessageSize = 131_072
        /// The `build` parameter of the `hi` reply.
        public var build = "double:v0.25.3"
        /// The `servingAt` parameter of the `hi` reply (Tinode's HTTP address).
        public var servingAt = "http://127.0.0.1:6060/"
        /// A session with more unsent messages than this stops being written to (half-dead), like
        /// Tinode's writer giving up on a slow client.
        public var sendQueueLimit = 128
        /// tinode.conf `acc_validation.email` with `required: ["auth"]` (fixture i). nil, as on the
        /// server of the other fixtures: e-mail credentials are stored unvalidated and never asked for.
        public var emailValidation: EmailValidation?
        /// tinode.conf `auth_config.rest` with `use_separate_endpoints: true`: logins with scheme `rest`
        /// go to a real REST-auth server. nil, as on a server without it: `rest` is an unknown scheme.
        public var restAuth: RESTAuth?
        /// The clock behind every time the double stores or sends; replays drive it by hand.
        public var time: TimeSource = .wallClock
        /// How the connections behave on the wire. By default like Tinode's grpc-go server: a PING
        /// per client message and its keepalive policy (tinode.conf `grpc_keepalive_enabled: true`),
        /// so that a client's HTTP/2 stack meets what it meets in production. `.grpcSwift` turns the
        /// emulation off.
        public var wire: Wire = .grpcGo(keepalivePolicy: .tinodeKeepaliveEnabled)

        public init() {}
    }
}
